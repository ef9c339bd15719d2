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
from airflow_ml_provider.core.training_job import TrainingJob

log = logging.getLogger(__name__)

DIGEST_TAG = "airflow_ml.model_sha256"
UNSAFE_FORMATS = ("pickle", "cloudpickle")
PICKLE_SUFFIXES = frozenset({".pkl", ".pickle", ".pth", ".pt", ".joblib"})
"""Files no model of ours holds: pickles (a sklearn or LightGBM pickle, torch.save's)."""
MODEL_TYPE_PACKAGES = (
    "sklearn",
    "numpy",
    "scipy",
    "pandas",
    "airflow_ml_provider.ml",
    "lightgbm",
    "xgboost",
)
"""Packages whose classes a skops model file may ask to load (plus the allowed transformer
packages: team code)."""
CONTAINER_TYPES = frozenset(
    {"functools.partial", "collections.OrderedDict", "collections.defaultdict"}
)
"""Standard-library types fitted models hold, trusted by exact name (skops builds a partial
from its function and arguments without calling it)."""
MODEL_FUNCTIONS = frozenset({"sklearn.utils.validation.check_array"})
"""Functions outside our own transformers a fitted model refers to (HistGradientBoosting's
input check), trusted by exact name."""
MODEL_CLASSES = frozenset(
    {"skrub._squashing_scaler.SquashingScaler", "skrub._squashing_scaler._MinMaxScaler"}
)
"""Classes of other packages our preprocessing builds (``scale: squashing``), trusted by exact
name (not their whole package); a fitted SquashingScaler holds a _MinMaxScaler for columns
whose quartiles are equal (mostly one value)."""
OWN_FUNCTION_MODULE = "airflow_ml_provider.ml.transformers"
"""Our FunctionTransformer functions."""
_NOT_MODEL_MODULES = frozenset({"testing", "tests", "test", "mocking", "conftest", "io"})
FILE_CLASSES = frozenset({"numpy.memmap"})
"""Classes of model packages whose constructor opens files."""


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
    "mlflow.pytorch",
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
    nested = [yaml.safe_load(path.read_text()) for path in folder.glob("*/**/MLmodel")]
    every = [
        *flavors.items(),
        *((n, f) for m in nested for n, f in (m.get("flavors") or {}).items()),
    ]
    pickled = [
        f"the model's {name} flavor is serialized with {described['serialization_format']}"
        for name, described in every
        if isinstance(described, dict) and described.get("serialization_format") in UNSAFE_FORMATS
    ]
    pickled += [
        f"the model holds {path.relative_to(folder)}, a pickle"
        for path in folder.rglob("*")
        if path.suffix in PICKLE_SUFFIXES and path.is_file()
    ]
    if pickled:
        raise ModelIntegrityError(
            f"{pickled[0]}, which runs code when loaded; only skops, LightGBM/XGBoost native "
            "and PyTorch pt2 models are loaded"
        )
    flavor = flavors.get("sklearn") or {}
    config = pyfunc.get("model_config") or {}
    asked = [*(flavor.get("skops_trusted_types") or []), *(config.get("trusted_types") or [])]
    check_trusted_types(asked, platform_trust(extra_prefixes))


def platform_trust(extra_packages: tuple[str, ...] = ()) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """The packages and functions a loaded model's trusted types may name, from the
    platform's ``[ml_provider]`` settings (read in Airflow and serving processes)."""
    from airflow_ml_provider import settings

    packages = (
        *extra_packages,
        *settings.allowed_estimator_modules(),
        *settings.allowed_transformer_modules(),
        *settings.allowed_training_modules(),
    )
    return packages, settings.allowed_callables()


def job_trust(job: TrainingJob) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """The same lists as the training job carries them: a training process never reads
    Airflow's configuration (a task's child has no metadata database to initialise it)."""
    packages = (
        *job.allowed_estimator_modules,
        *job.allowed_transformer_modules,
        *job.allowed_training_modules,
    )
    return packages, tuple(job.allowed_callables)


def check_trusted_types(names: list[str], trust: tuple[tuple[str, ...], tuple[str, ...]]) -> None:
    """Refuse a skops trusted-type list with a type a model of ours never holds: every name
    must be a class of a model package or of team code (``trust``'s packages), a container
    type, one of our transformer functions or a function the platform listed (``trust``'s
    callables) — never ``builtins.exec``, ``os.system``, an ``operator`` trick or a test
    helper. Run when training records the list and again before every load."""
    packages, callables = trust
    packages = (*MODEL_TYPE_PACKAGES, *packages)
    refused = [name for name in names if not _trusted_type(name, packages, callables)]
    if refused:
        raise ModelIntegrityError(
            "the model asks to trust types outside the allowed modules: "
            f"{', '.join(refused[:5])}; refusing to load it"
        )


def _trusted_type(name: str, packages: tuple[str, ...], callables: tuple[str, ...]) -> bool:
    """Whether ``name`` may be in a model's trusted types: a class (skops calls a trusted
    type with the file's arguments; a function there is code run at load) of a model or
    team package outside test and file-reading modules, or a function listed above."""
    import importlib
    import inspect

    from airflow_ml_provider.core.allow_lists import in_packages

    if name in CONTAINER_TYPES or name in MODEL_FUNCTIONS or name in MODEL_CLASSES:
        return True
    if name in callables:  # a team function the platform listed (a tokenizer)
        return True
    module, _, last = name.rpartition(".")
    if not in_packages(name, packages) or name in FILE_CLASSES:
        return False
    if any(part.lstrip("_").lower() in _NOT_MODEL_MODULES for part in name.split(".")):
        return False
    if module == OWN_FUNCTION_MODULE:
        return True
    try:
        found = getattr(importlib.import_module(module), last, None)
    except ImportError:
        return False
    return inspect.isclass(found)


@contextmanager
def verified_copy(model_uri: str, extra_prefixes: tuple[str, ...] = ()) -> Iterator[str]:
    """A local copy of ``model_uri`` checked against its recorded digest (yields its path).

    A model without a recorded digest (registered by hand, or before digests existed) is
    refused, unless ``[ml_provider] allow_unverified_models`` is set: then it is loaded after
    the format and type checks, with a warning."""
    import mlflow

    from airflow_ml_provider.ml.integrity.skops_io import skops_io

    skops_io()  # before MLflow imports it to load the model (see ml/integrity/skops_io.py)
    expected = recorded_digest(model_uri)
    with tempfile.TemporaryDirectory(prefix="airflow-ml-model-") as scratch:
        local = Path(mlflow.artifacts.download_artifacts(artifact_uri=model_uri, dst_path=scratch))
        if expected is None:
            _unverified(model_uri)
        elif folder_digest(local) != expected:
            raise ModelIntegrityError(
                f"the files of {model_uri} are not the ones its training run recorded "
                "(changed in the artifact store since): refusing to load it"
            )
        check_loadable(local, extra_prefixes, verified=expected is not None)
        yield str(local)


def _unverified(model_uri: str) -> None:
    """Refuse a model without a recorded digest unless the platform allows such models."""
    from airflow_ml_provider import settings

    if not settings.allow_unverified_models():
        raise ModelIntegrityError(
            f"{model_uri} has no recorded digest ({DIGEST_TAG} on its training run): its files "
            "cannot be verified, so it is not loaded (a model registered by hand, or trained "
            "before digests; [ml_provider] allow_unverified_models = True loads such models "
            "after the format checks)"
        )
    log.warning("%s has no recorded digest: its files cannot be verified", model_uri)


def record_digest(model_uri: str) -> str:
    """Compute the digest of a just-logged model and record it on the active run."""
    import mlflow

    with tempfile.TemporaryDirectory(prefix="airflow-ml-model-") as scratch:
        local = Path(mlflow.artifacts.download_artifacts(artifact_uri=model_uri, dst_path=scratch))
        digest = folder_digest(local)
    mlflow.set_tag(DIGEST_TAG, digest)
    return digest
