"""Models are verified before they are loaded.

The training process records the sha256 of every file of the model it logged (one digest
over the sorted ``path: sha256`` lines) as the run tag ``airflow_ml.model_sha256``, in the
tracking database rather than in the artifact store, which more people can write to. Every
load here (the gate, deployment's smoke test, batch scoring, monitoring, rollback) downloads
the model, checks the digest, refuses pickle formats and skops types outside the allowed
modules, and loads the verified local copy — never the store's files directly. No Airflow
imports.
"""

from __future__ import annotations

import hashlib
import logging
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from airflow_ml_provider.core.errors import AirflowMlError

log = logging.getLogger(__name__)

DIGEST_TAG = "airflow_ml.model_sha256"
UNSAFE_FORMATS = ("pickle", "cloudpickle")
TRUSTED_TYPE_PREFIXES = (
    "sklearn.",
    "numpy.",
    "scipy.",
    "pandas.",
    "builtins.",
    "collections.",
    "functools.",
    "airflow_ml_provider.",
    "lightgbm.",
    "xgboost.",
)
"""Modules whose types a skops model file may ask to load (plus allowed transformer modules)."""


class ModelIntegrityError(AirflowMlError, ValueError):
    """A model's files are not the ones its training run recorded, or unsafe to load."""


REGISTRY_FILES = ("registered_model_meta",)
"""Written into the model folder by MLflow when a version is registered (its name and
number; never loaded as code): not part of what training produced."""


def folder_digest(folder: Path) -> str:
    """One sha256 over ``relative path: sha256`` of every file below ``folder``, sorted."""
    lines = []
    files = (p for p in folder.rglob("*") if p.is_file() and p.name not in REGISTRY_FILES)
    for path in sorted(files):
        digest = hashlib.sha256(path.read_bytes()).hexdigest()
        lines.append(f"{path.relative_to(folder).as_posix()}: {digest}\n")
    return hashlib.sha256("".join(lines).encode()).hexdigest()


def recorded_digest(model_uri: str) -> str | None:
    """The digest the model's training run recorded (run tag), or None when it has none."""
    import mlflow

    client = mlflow.MlflowClient()
    if model_uri.startswith("models:/"):
        name, _, rest = model_uri.removeprefix("models:/").partition("/")
        if "@" in name:
            name, alias = name.split("@", 1)
            run_id = client.get_model_version_by_alias(name, alias).run_id
        elif rest:
            run_id = client.get_model_version(name, rest.split("/")[0]).run_id
        else:  # MLflow 3's logged model id (models:/m-...)
            run_id = client.get_logged_model(name).source_run_id
    elif model_uri.startswith("runs:/"):
        run_id = model_uri.removeprefix("runs:/").split("/")[0]
    else:
        return None
    return client.get_run(run_id).data.tags.get(DIGEST_TAG) if run_id else None


LOADER_MODULES = (
    "mlflow.sklearn",
    "mlflow.lightgbm",
    "mlflow.xgboost",
    "mlflow.pyfunc.loaders.code_model",
)
"""pyfunc loaders a model may name: each loads its files without unpickling them (the
code-model loader runs the model's own code file, so it needs a verified digest)."""


def check_loadable(
    folder: Path, extra_prefixes: tuple[str, ...] = (), *, verified: bool = True
) -> None:
    """Refuse pickled models (a sklearn pickle, a cloudpickled pyfunc ``python_model``),
    loaders outside LOADER_MODULES, code shipped with an unverified model and skops types
    outside the allowed modules."""
    import yaml

    meta = yaml.safe_load((folder / "MLmodel").read_text())
    flavors = meta.get("flavors") or {}
    pyfunc = flavors.get("python_function") or {}
    if str(pyfunc.get("python_model") or "").endswith(".pkl"):
        raise ModelIntegrityError(
            "the model's python_model is cloudpickled, which runs code when loaded; log it "
            "from a code file (MLflow models-from-code) instead"
        )
    loader = pyfunc.get("loader_module")
    if loader is not None and loader not in LOADER_MODULES:
        raise ModelIntegrityError(
            f"the model is loaded by {loader}, which is not one of {', '.join(LOADER_MODULES)}"
        )
    if not verified and (pyfunc.get("code") or pyfunc.get("model_code_path")):
        raise ModelIntegrityError(
            "the model carries code but has no recorded digest to verify it: refusing to run it"
        )
    flavor = flavors.get("sklearn") or {}
    if flavor.get("serialization_format") in UNSAFE_FORMATS:
        raise ModelIntegrityError(
            f"the model is serialized with {flavor['serialization_format']}, which runs code "
            "when loaded; only skops models are loaded"
        )
    prefixes = TRUSTED_TYPE_PREFIXES + tuple(extra_prefixes) + _team_modules()
    unknown = [t for t in flavor.get("skops_trusted_types") or [] if not t.startswith(prefixes)]
    if unknown:
        raise ModelIntegrityError(
            f"the model asks to trust types outside the allowed modules: {', '.join(unknown[:5])}"
        )


def _team_modules() -> tuple[str, ...]:
    """The platform's allowed transformer modules: team code a model may refer to."""
    from airflow_ml_provider import settings

    return settings.allowed_transformer_modules()


@contextmanager
def verified_copy(model_uri: str, extra_prefixes: tuple[str, ...] = ()) -> Iterator[str]:
    """A local copy of ``model_uri`` checked against its recorded digest (yields its path).

    A model without a recorded digest (registered by hand, or before digests existed) is
    loaded after the format checks, with a warning."""
    import mlflow

    from airflow_ml_provider.ml.skops_io import skops_io

    skops_io()  # before MLflow imports it to load the model (see ml/skops_io.py)
    expected = recorded_digest(model_uri)
    with tempfile.TemporaryDirectory(prefix="airflow-ml-model-") as scratch:
        local = Path(mlflow.artifacts.download_artifacts(artifact_uri=model_uri, dst_path=scratch))
        if expected is None:
            log.warning("%s has no recorded digest: its files cannot be verified", model_uri)
        elif folder_digest(local) != expected:
            raise ModelIntegrityError(
                f"the files of {model_uri} are not the ones its training run recorded "
                "(changed in the artifact store since): refusing to load it"
            )
        check_loadable(local, extra_prefixes, verified=expected is not None)
        yield str(local)


def record_digest(model_uri: str) -> str:
    """Compute the digest of a just-logged model and record it on the active run."""
    import mlflow

    with tempfile.TemporaryDirectory(prefix="airflow-ml-model-") as scratch:
        local = Path(mlflow.artifacts.download_artifacts(artifact_uri=model_uri, dst_path=scratch))
        digest = folder_digest(local)
    mlflow.set_tag(DIGEST_TAG, digest)
    return digest
