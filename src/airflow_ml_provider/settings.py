"""Where things live on the embedded default, and the provider's own Airflow config."""

from __future__ import annotations

import os
from pathlib import Path

from airflow_ml_provider.core.allow_lists import (
    DEFAULT_CALLABLES,
    DEFAULT_ENV_PREFIXES,
    DEFAULT_ESTIMATOR_PREFIXES,
    DEFAULT_IMAGE_PREFIXES,
    DEFAULT_NOTIFIER_PREFIXES,
    DEFAULT_SECRETS,
    DEFAULT_TRAINING_MODULES,
    DEFAULT_TRANSFORMER_PREFIXES,
)

SECTION = "ml_provider"
UI_PREFIX = "/ml-pipelines"
"""Where the plugin's pages live on the api-server."""
SERVED_SNAPSHOTS = "/artifacts/snapshots"
"""Where the plugin serves the local artifact store's Data Docs (under UI_PREFIX)."""


def airflow_home() -> Path:
    """$AIRFLOW_HOME, or ./.airflow-ml when unset (never the user's real ~/airflow)."""
    return Path(os.environ.get("AIRFLOW_HOME") or Path.cwd() / ".airflow-ml").resolve()


def _conf_get(key: str, fallback: str) -> str:
    try:
        from airflow.sdk.configuration import conf
    except ImportError:  # inside the training pod Airflow is not installed
        return os.environ.get(f"AIRFLOW__{SECTION.upper()}__{key.upper()}", fallback)
    return conf.get(SECTION, key, fallback=fallback) or fallback


def _listed(key: str, default: tuple[str, ...]) -> tuple[str, ...]:
    """A comma-separated [ml_provider] setting as a tuple (``default`` when unset)."""
    raw = _conf_get(key, ",".join(default))
    return tuple(part.strip() for part in raw.split(",") if part.strip())


LOCAL_TRAINING_IN_PROCESS = "in_process"
LOCAL_TRAINING_WARM = "warm"
LOCAL_TRAINING_MODES = ("subprocess", LOCAL_TRAINING_WARM, LOCAL_TRAINING_IN_PROCESS)
LOCAL_TRAINING_ENV = f"AIRFLOW__{SECTION.upper()}__LOCAL_TRAINING"


def local_training() -> str:
    """How the local runner trains: ``subprocess`` (``python -m ...ml.train``, isolated: the
    default on a deployed Airflow), ``warm`` (the same job forked from the worker's warm
    training process, which has the training libraries imported: as isolated, without their
    start-up) or ``in_process`` (the same function in the task's own process, whose imports
    are already warm: what ``airflow-ml run`` uses)."""
    chosen = _conf_get("local_training", "subprocess")
    if chosen not in LOCAL_TRAINING_MODES:
        raise ValueError(
            f"[{SECTION}] local_training is {chosen!r}; expected one of "
            f"{', '.join(LOCAL_TRAINING_MODES)}"
        )
    return chosen


def allowed_estimator_modules() -> tuple[str, ...]:
    """Packages a training.estimator may be a class of ([ml_provider] config)."""
    return _listed("allowed_estimator_modules", DEFAULT_ESTIMATOR_PREFIXES)


def allowed_notifier_modules() -> tuple[str, ...]:
    """Packages an alerts.notifiers class may come from ([ml_provider] config)."""
    return _listed("allowed_notifier_modules", DEFAULT_NOTIFIER_PREFIXES)


def allowed_transformer_modules() -> tuple[str, ...]:
    """Packages team transformers (features.custom) may be classes of ([ml_provider]
    config)."""
    return _listed("allowed_transformer_modules", DEFAULT_TRANSFORMER_PREFIXES)


def allowed_callables() -> tuple[str, ...]:
    """Exact import paths of the functions YAML may name (tokenizers) ([ml_provider] config)."""
    return _listed("allowed_callables", DEFAULT_CALLABLES)


def allowed_training_modules() -> tuple[str, ...]:
    """Packages a training.entrypoint may be a function of ([ml_provider] config; none by
    default: team training code runs only where the platform allowed its package)."""
    return _listed("allowed_training_modules", DEFAULT_TRAINING_MODULES)


def allowed_images() -> tuple[str, ...]:
    """Image prefixes (registries/repositories) pods may run ([ml_provider] config)."""
    return _listed("allowed_images", DEFAULT_IMAGE_PREFIXES)


def allowed_trainer_images() -> tuple[str, ...]:
    """Image prefixes of team trainer images: the only images whose command a pipeline may
    set (training.kubernetes.command) — the team's own code, built by its CI; none by
    default."""
    return _listed("allowed_trainer_images", ())


def allowed_service_accounts() -> tuple[str, ...]:
    """ServiceAccounts a pipeline's pods may run as ([ml_provider] config; default the
    chart's two)."""
    from airflow_ml_provider.cluster import SERVING_SERVICE_ACCOUNT, TRAINING_SERVICE_ACCOUNT

    return _listed("allowed_service_accounts", (TRAINING_SERVICE_ACCOUNT, SERVING_SERVICE_ACCOUNT))


def allowed_secrets() -> tuple[str, ...]:
    """Kubernetes Secrets a pipeline's pods may take environment from ([ml_provider])."""
    return _listed("allowed_secrets", DEFAULT_SECRETS)


def allow_pod_templates() -> bool:
    """Whether training.kubernetes.pod_template_file may be used ([ml_provider] config)."""
    return _flag("allow_pod_templates")


def _flag(key: str) -> bool:
    return _conf_get(key, "False").strip().lower() in ("true", "1", "yes")


def allow_unverified_models() -> bool:
    """Whether a model without a recorded digest may be loaded ([ml_provider] config)."""
    return _flag("allow_unverified_models")


def allowed_env_prefixes() -> tuple[str, ...]:
    """Names of the environment variables ``${VAR}`` in YAML may read ([ml_provider] config);
    every other variable of the DAG processor stays out of reach."""
    return _listed("allowed_env_prefixes", DEFAULT_ENV_PREFIXES)


def allowed_data_roots() -> tuple[Path, ...]:
    """Folders local files named in YAML may be in, besides the pipeline file's own: the
    DAGs folder, a local artifact store and ``[ml_provider] allowed_data_roots``
    (comma-separated paths)."""
    roots = [Path(p.strip()).expanduser() for p in _conf_get("allowed_data_roots", "").split(",")]
    try:
        from airflow.sdk.configuration import conf

        roots.append(Path(conf.get("core", "dags_folder")).expanduser())
    except ImportError:  # inside the training pod: no DAGs folder
        pass
    store = artifact_store()
    if store.startswith("file://"):
        roots.append(Path(store.removeprefix("file://")))
    return tuple(root for root in roots if str(root) not in ("", "."))


GPU_TOLERATIONS = [{"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"}]
"""The taint GPU node pools carry on GKE and EKS (and NVIDIA's device plugin docs suggest)."""


def gpu_node_selector() -> dict[str, str]:
    """Node labels a GPU pod gets when its YAML names none (``[ml_provider]
    gpu_node_selector``, a JSON mapping the Helm values set; default none)."""
    import json

    return dict(json.loads(_conf_get("gpu_node_selector", "{}") or "{}"))


def gpu_tolerations() -> list[dict[str, object]]:
    """Tolerations a GPU pod gets when its YAML names none (``[ml_provider] gpu_tolerations``,
    a JSON list; default GPU_TOLERATIONS)."""
    import json

    return list(json.loads(_conf_get("gpu_tolerations", json.dumps(GPU_TOLERATIONS))))


def parse_cache_folder() -> Path | None:
    """Where parsed pipeline files are cached by content hash (``[ml_provider] parse_cache``:
    a folder, or ``off``); by default a folder under $AIRFLOW_HOME."""
    configured = _conf_get("parse_cache", "").strip()
    if configured.lower() in ("off", "false", "none"):
        return None
    return Path(configured).expanduser() if configured else airflow_home() / "ml-parse-cache"


def artifact_store() -> str:
    """Root URI for dataset snapshots and validation results."""
    configured = _conf_get("artifact_store", "")
    if configured:
        return configured if "://" in configured else Path(configured).resolve().as_uri()
    return (airflow_home() / "ml-artifacts").as_uri()


def embedded_store_path() -> Path:
    """The embedded default's MLflow SQLite file."""
    return airflow_home() / "mlflow.db"


def embedded_tracking_uri() -> str:
    """MLflow tracking store used when no mlflow connection exists."""
    return f"sqlite:///{embedded_store_path()}"


def embedded_artifact_root() -> str:
    """Where the embedded MLflow store keeps model artifacts."""
    return (airflow_home() / "mlartifacts").as_uri()


def mail_templates() -> str:
    """``[ml_provider] mail_templates``: a folder of Jinja templates that replace the default
    mail bodies of the same name (notifications/templates); empty: the defaults."""
    return _conf_get("mail_templates", "").strip()


def mlflow_ui_url() -> str:
    """Where people open the MLflow UI for a non-HTTP store; empty when nobody serves it."""
    return _conf_get("mlflow_ui_url", "").strip().rstrip("/")


def api_base_url() -> str:
    """The Airflow UI's address ([api] base_url)."""
    from airflow.sdk.configuration import conf

    return (conf.get("api", "base_url", fallback="") or "http://localhost:8080").rstrip("/")


def data_docs_url(uri: str) -> str:
    """Where a person opens Data Docs: through the plugin's pages (behind Airflow's login)
    when they are in a local artifact store that ``artifact_store_url`` does not map — a
    browser does not open file:// links from an http page — else ``browsable_url``."""
    root = artifact_store()
    if root.startswith("file://") and not _conf_get("artifact_store_url", ""):
        local = Path(uri.removeprefix("file://"))
        base = Path(root.removeprefix("file://"))
        snapshots = base / "snapshots"
        if local.is_relative_to(snapshots):
            path = local.relative_to(snapshots).as_posix()
            return f"{api_base_url()}{UI_PREFIX}{SERVED_SNAPSHOTS}/{path}"
    return browsable_url(uri)


def served_data_docs(dag_id: str, path: str) -> Path | None:
    """The local file of a Data Docs URL (``data_docs_url``) of pipeline ``dag_id``, or None
    when it is not one: only files under ``snapshots/<dag_id>/<hash>/data_docs/`` of a
    local artifact store."""
    root = artifact_store()
    parts = Path(path).parts
    if not root.startswith("file://") or len(parts) < 3 or parts[1] != "data_docs":
        return None
    folder = (Path(root.removeprefix("file://")) / "snapshots" / dag_id).resolve()
    file = (folder / path).resolve()
    return file if file.is_relative_to(folder) and file.is_file() else None


def browsable_url(uri: str) -> str:
    """A URL a person can open for a file in the artifact store (Data Docs, reports).

    With ``[ml_provider] artifact_store_url`` set, the artifact store's root is replaced
    by it; otherwise gs:// and s3:// become their cloud consoles' object URLs and local
    files stay file:// URIs.
    """
    base = _conf_get("artifact_store_url", "").rstrip("/")
    root = artifact_store().rstrip("/")
    if base and uri.startswith(root + "/"):
        return base + uri[len(root) :]
    if uri.startswith("gs://"):
        return "https://storage.cloud.google.com/" + uri.removeprefix("gs://")
    if uri.startswith("s3://"):
        bucket, _, key = uri.removeprefix("s3://").partition("/")
        return f"https://{bucket}.s3.amazonaws.com/{key}"
    if uri.startswith("/"):
        return "file://" + uri
    return uri
