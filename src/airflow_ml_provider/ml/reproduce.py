"""Re-running a training run from what it recorded (``ml.integrity.provenance``).

:func:`reproduce` loads the run's ``job.json``, checks the
content-addressed data snapshot still has the recorded sha256, trains again into a new
run of the same experiment (tagged ``airflow_ml.reproduces``) and compares the metrics.
No Airflow imports: this is importable wherever the training entrypoint is.
"""

from __future__ import annotations

import contextlib
import hashlib
import sys
import tempfile
from pathlib import Path
from typing import Any

from airflow_ml_provider.core.errors import AirflowMlError
from airflow_ml_provider.core.training_job import JobError, TrainingJob, check_job
from airflow_ml_provider.ml.integrity.provenance import (
    ENVIRONMENT_TAGS,
    JOB_ARTIFACT,
    REPRODUCES_TAG,
    REPRODUCTION_TAG,
)

TOLERANCE = 1e-9


class ReproduceError(AirflowMlError):
    """The run cannot be reproduced (not found, no job.json, data changed or gone)."""


# --- re-running a run -----------------------------------------------------------------


def file_sha256(uri: str) -> str:
    """sha256 of the bytes at ``uri`` (a path, file:// or any fsspec URL)."""
    from airflow_ml_provider.ml.data.dataset import local_path_or_uri

    location = local_path_or_uri(uri)
    digest = hashlib.sha256()
    if "://" in location:
        import fsspec

        opened = fsspec.open(location, "rb")
    else:
        opened = open(location, "rb")  # noqa: SIM115 - closed by the with below
    with opened as stream:
        for block in iter(lambda: stream.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def verify_data(job: TrainingJob, expected: str) -> None:
    """Fail unless the snapshot at the job's data URI still has sha256 ``expected``."""
    uri = job.data.uri
    if not expected:
        raise ReproduceError(
            f"no data sha256 recorded for the run; cannot check that {uri} is the same data"
        )
    try:
        actual = file_sha256(uri)
    except FileNotFoundError:
        raise ReproduceError(f"the data snapshot {uri} is gone") from None
    except OSError as exc:
        raise ReproduceError(f"the data snapshot {uri} cannot be read: {exc}") from None
    if actual != expected:
        raise ReproduceError(
            f"the data snapshot {uri} changed since the run: sha256 {actual} "
            f"instead of the recorded {expected}"
        )


def _store_exists(tracking_uri: str) -> None:
    """MLflow silently creates a new sqlite store; a typo'd path should be an error."""
    if tracking_uri.startswith("sqlite:///"):
        path = Path(tracking_uri.removeprefix("sqlite:///").partition("?")[0])
        if not path.exists():
            raise ReproduceError(f"no MLflow tracking store at {tracking_uri}")


def load_run(tracking_uri: str, run_id: str):
    """(run, job) of ``run_id``; ReproduceError when either is missing."""
    import json

    import mlflow
    from mlflow.exceptions import MlflowException

    _store_exists(tracking_uri)
    client = mlflow.MlflowClient(tracking_uri)
    try:
        run = client.get_run(run_id)
    except MlflowException:
        raise ReproduceError(f"run {run_id} not found in {tracking_uri}") from None
    with tempfile.TemporaryDirectory(prefix="airflow-ml-reproduce-") as scratch:
        try:
            path = client.download_artifacts(run_id, JOB_ARTIFACT, scratch)
            job = json.loads(Path(path).read_text())
        except (MlflowException, OSError, ValueError):
            raise ReproduceError(
                f"run {run_id} has no {JOB_ARTIFACT} artifact: it was not trained by this "
                "provider's entrypoint (or by a version before reproducibility records)"
            ) from None
    try:
        check_job(job)
    except JobError as exc:
        raise ReproduceError(f"run {run_id}'s {JOB_ARTIFACT} cannot be re-run: {exc}") from None
    return run, TrainingJob.model_validate(job)


def _compare(original: dict[str, float | None], reproduced: dict[str, float]) -> dict:
    rows = {}
    for name, new in reproduced.items():
        old = original.get(name)
        diff = None if old is None else abs(new - old)
        rows[name] = {
            "original": old,
            "reproduced": new,
            "abs_diff": diff,
            "match": diff is not None and diff <= TOLERANCE,
        }
    return rows


def reproduce(run_id: str, tracking_uri: str) -> dict[str, Any]:
    """Train ``run_id``'s job again into a new run of its experiment; compare the metrics.

    Training output goes to stderr. Returns ``{run_id, reproduction_run_id, experiment_id,
    match, tolerance, metrics: {name: {original, reproduced, abs_diff, match}},
    environment: {tag: {original, reproduced}} (only differences), data_sha256}``.
    """
    import mlflow

    from airflow_ml_provider.ml.train import checked_job, train_model

    run, job = load_run(tracking_uri, run_id)
    tags = run.data.tags
    if job.data.partition_by:
        raise ReproduceError(
            f"run {run_id} is a partitioned model (one model per "
            f"{job.data.partition_by!r}); reproduce re-trains single models only. "
            "Trigger the pipeline's DAG on the same snapshot to rebuild it"
        )
    if job.candidate:
        raise ReproduceError(
            f"run {run_id} cross-validated candidate {job.candidate.get('name')!r}; it logged "
            "no model. Reproduce the run of the model select_model trained"
        )
    expected = tags.get("airflow_ml.data_sha256") or job.data.sha256
    verify_data(job, expected)
    client = mlflow.MlflowClient(tracking_uri)
    experiment = client.get_experiment(run.info.experiment_id)
    job = job.model_copy(
        update={
            "tracking_uri": tracking_uri,
            "experiment_name": experiment.name,
            "run_name": f"{run.info.run_name or run_id} (reproduce)",
            "output": None,
            "tags": {**job.tags, REPRODUCES_TAG: run_id},
        }
    )
    with contextlib.redirect_stdout(sys.stderr):
        result = train_model(checked_job(job.model_dump(mode="json")))
    reproduced = dict(result["metrics"])
    search = result.get("search")
    if search:
        reproduced[f"search.best_cv_{search['scoring']}"] = search["best_cv_score"]
    metrics = _compare({n: run.data.metrics.get(n) for n in reproduced}, reproduced)
    match = all(row["match"] for row in metrics.values())
    client.set_tag(result["run_id"], REPRODUCTION_TAG, "match" if match else "differ")
    new_tags = client.get_run(result["run_id"]).data.tags
    environment = {
        key: {"original": tags.get(key), "reproduced": new_tags.get(key)}
        for key in ENVIRONMENT_TAGS
        if tags.get(key) != new_tags.get(key)
    }
    return {
        "run_id": run_id,
        "reproduction_run_id": result["run_id"],
        "experiment_id": result["experiment_id"],
        "match": match,
        "tolerance": TOLERANCE,
        "metrics": metrics,
        "environment": environment,
        "data_sha256": expected,
    }


def format_report(report: dict[str, Any]) -> str:
    """The comparison as a table, for the terminal."""
    lines = [
        f"run {report['run_id']} reproduced as run {report['reproduction_run_id']} "
        f"(experiment {report['experiment_id']}, data sha256 {report['data_sha256'][:16]})",
        f"  {'metric':<28} {'original':>20} {'reproduced':>20} {'abs diff':>10}",
    ]
    for name, row in report["metrics"].items():
        old = "-" if row["original"] is None else f"{row['original']:.12g}"
        diff = "-" if row["abs_diff"] is None else f"{row['abs_diff']:.3g}"
        flag = "" if row["match"] else "  DIFFERS"
        lines.append(f"  {name:<28} {old:>20} {row['reproduced']:>20.12g} {diff:>10}{flag}")
    for key, values in report["environment"].items():
        lines.append(
            f"  note: {key} was {values['original'] or '-'}, now {values['reproduced'] or '-'}"
        )
    verdict = "metrics MATCH" if report["match"] else "metrics DIFFER"
    lines.append(f"{verdict} (tolerance {report['tolerance']:g})")
    return "\n".join(lines)
