"""The model server's entrypoint in a serving pod: verify, then serve.

    python -m airflow_ml_provider.ml.serve_verified models:/<name>/<version> [serve args...]

Downloads the model version, checks it against the digest its training run recorded and
refuses pickled or code-carrying unverified models (ml.integrity.model_files) — then replaces
itself with
``mlflow models serve`` on the verified local copy, so the server never loads the artifact
store's files directly. A refused model exits with one line, the pod does not become ready
and the rollout is undone. No Airflow imports.
"""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

from airflow_ml_provider.ml.integrity.model_files import ModelIntegrityError, verified_copy


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if not args:
        print("usage: serve_verified MODEL_URI [mlflow models serve args...]", file=sys.stderr)
        return 2
    model_uri, serve_args = args[0], args[1:]
    destination = Path(os.environ.get("HOME") or "/tmp") / "verified-model"
    shutil.rmtree(destination, ignore_errors=True)
    try:
        with verified_copy(model_uri) as local:
            shutil.copytree(local, destination)
    except ModelIntegrityError as exc:
        print(f"error: {model_uri}: {exc}", file=sys.stderr)
        return 2
    print(f"verified {model_uri}; serving it", flush=True)
    os.execvp("mlflow", ["mlflow", "models", "serve", "-m", str(destination), *serve_args])
    return 0  # not reached: exec replaced the process


if __name__ == "__main__":
    sys.exit(main())
