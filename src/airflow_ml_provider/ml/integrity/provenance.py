"""Provenance: what every training run records (local runner and pod alike) — tags with the
data and config hashes, split seed, provider/python/scikit-learn/MLflow versions, image and
dags commit, and the job itself as the ``job.json`` artifact, without credentials. Read back
by ``ml.reproduce``. No Airflow imports."""

from __future__ import annotations

import os
import platform
import shutil
import subprocess
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from airflow_ml_provider.core.training_job import TrainingJob

JOB_ARTIFACT = "job.json"
REPRODUCES_TAG = "airflow_ml.reproduces"
REPRODUCTION_TAG = "airflow_ml.reproduction"
ENVIRONMENT_TAGS = (
    "airflow_ml.provider_version",
    "airflow_ml.python_version",
    "airflow_ml.sklearn_version",
    "airflow_ml.mlflow_version",
    "airflow_ml.image",
    "airflow_ml.image_digest",
)
_SECRET_QUERY_KEYS = ("token", "password", "secret", "key", "credential", "signature")


def _git_commit(source: str | None) -> str | None:
    """HEAD of the git checkout holding ``source`` (a local pipeline file), if cheap to get."""
    if not source or "://" in source or shutil.which("git") is None:
        return None
    folder = Path(source).parent
    if not folder.is_dir():
        return None
    try:
        done = subprocess.run(
            ["git", "-C", str(folder), "rev-parse", "HEAD"],
            capture_output=True,
            text=True,
            timeout=5,
            check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    commit = done.stdout.strip()
    return commit if done.returncode == 0 and commit else None


def reproducibility_tags(job: TrainingJob, existing: dict[str, str]) -> dict[str, str]:
    """Provenance tags of a training run; tags the job already sets are kept as they are."""
    import mlflow
    import sklearn

    from airflow_ml_provider import __version__

    data = job.data
    tags = {
        "airflow_ml.seed": str(data.split.seed),
        "airflow_ml.provider_version": __version__,
        "airflow_ml.python_version": platform.python_version(),
        "airflow_ml.sklearn_version": sklearn.__version__,
        "airflow_ml.mlflow_version": mlflow.__version__,
    }
    if data.sha256:
        tags["airflow_ml.data_sha256"] = data.sha256
    tags["airflow_ml.data_uri"] = data.uri
    if os.environ.get("AIRFLOW_ML_IMAGE"):
        tags["airflow_ml.image"] = os.environ["AIRFLOW_ML_IMAGE"]
    if os.environ.get("AIRFLOW_ML_IMAGE_DIGEST"):
        tags["airflow_ml.image_digest"] = os.environ["AIRFLOW_ML_IMAGE_DIGEST"]
    commit = os.environ.get("AIRFLOW_ML_DAGS_COMMIT") or _git_commit(job.pipeline_file)
    if commit:
        tags["airflow_ml.dags_commit"] = commit
    return {k: v for k, v in tags.items() if k not in existing}


def without_credentials(uri: str | None) -> str | None:
    """``uri`` without user:password@ and without token-like query parameters."""
    if not uri or "://" not in uri:
        return uri
    parts = urlsplit(uri)
    pairs = parse_qsl(parts.query, keep_blank_values=True)
    kept = [(k, v) for k, v in pairs if not any(w in k.lower() for w in _SECRET_QUERY_KEYS)]
    if "@" not in parts.netloc and len(kept) == len(pairs):
        return uri  # nothing to drop; urlunsplit would also mangle sqlite:////abs/path
    netloc = parts.netloc.rpartition("@")[2]
    return urlunsplit((parts.scheme, netloc, parts.path, urlencode(kept), parts.fragment))


def public_job(job: TrainingJob) -> dict[str, Any]:
    """The job as logged to ``job.json``: no output path of this process, no credentials."""
    record = job.model_dump(mode="json", exclude={"output"})
    for key in ("tracking_uri", "artifact_location"):
        if record.get(key):
            record[key] = without_credentials(record[key])
    return record
