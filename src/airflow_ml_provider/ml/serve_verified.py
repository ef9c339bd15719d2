"""The model server's entrypoint in a serving pod: verify, then serve.

    python -m airflow_ml_provider.ml.serve_verified models:/<name>/<version> --host H --port P

Downloads the model version, checks it against the digest its training run recorded and
refuses pickled or code-carrying unverified models (ml.integrity.model_files) — then serves
the verified local copy with MLflow's scoring server (the FastAPI app ``mlflow models serve``
runs: ``/ping``, ``/health``, ``/version``, ``/invocations``) under uvicorn, in this process,
so the server never loads the artifact store's files directly. ``mlflow models serve`` would
start two more interpreters (its CLI, then uvicorn) and copy the model again: ~7 s of a
pod's ~13 s to ready, measured. A refused model exits with one line, the pod does not become
ready and the rollout is undone. No Airflow imports.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
from pathlib import Path

from airflow_ml_provider.ml.integrity.model_files import ModelIntegrityError, verified_copy


def _arguments(argv: list[str]) -> argparse.Namespace:
    # `mlflow models serve`'s own spellings (-h/-p, --env-manager local), so a Deployment
    # written by an earlier release keeps starting on this image.
    parser = argparse.ArgumentParser(prog="serve_verified", add_help=False)
    parser.add_argument("model_uri")
    parser.add_argument("-h", "--host", default="127.0.0.1")
    parser.add_argument("-p", "--port", type=int, default=8080)
    parser.add_argument("--env-manager", choices=["local"], default="local")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = _arguments(sys.argv[1:] if argv is None else argv)
    destination = Path(os.environ.get("HOME") or "/tmp") / "verified-model"
    shutil.rmtree(destination, ignore_errors=True)
    try:
        with verified_copy(args.model_uri) as local:
            shutil.copytree(local, destination)
    except ModelIntegrityError as exc:
        print(f"error: {args.model_uri}: {exc}", file=sys.stderr)
        return 2
    print(f"verified {args.model_uri}; serving it", flush=True)
    import uvicorn
    from mlflow.pyfunc import scoring_server

    model = scoring_server.load_model_with_mlflow_config(str(destination))
    uvicorn.run(scoring_server.init(model), host=args.host, port=args.port, workers=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
