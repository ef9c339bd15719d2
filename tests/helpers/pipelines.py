"""Write the example pipeline, run it through the local runner, and read what it left in
MLflow, Airflow and the mails."""

from __future__ import annotations

import shutil
from pathlib import Path

from helpers.paths import EXAMPLE_CSV, EXAMPLE_YAML


def write_pipeline(
    folder: Path,
    name: str,
    *,
    estimator: str = "",
    params: str = "",
    smtp_conn_id: str = "",
    training: str = "",
    mail_on: str = "",
) -> Path:
    """A copy of the example pipeline with its own dag id and model name (and, given
    ``training``, that whole ``training:`` section instead of the example's; given
    ``smtp_conn_id``, mail through it, on ``mail_on`` events such as ``[summary]``)."""
    (folder / "data").mkdir(parents=True, exist_ok=True)
    if not (folder / "data" / EXAMPLE_CSV.name).exists():
        shutil.copy(EXAMPLE_CSV, folder / "data" / EXAMPLE_CSV.name)
    text = (
        EXAMPLE_YAML.read_text()
        .replace("pipeline: breast_cancer_ct", f"pipeline: {name}")
        .replace("model_name: breast_cancer", f"model_name: {name}_model")
        .replace("n_estimators: 200", "n_estimators: 30")
    )
    if estimator:
        text = text.replace("sklearn.ensemble.RandomForestClassifier", estimator)
    if params:
        text = text.replace("{n_estimators: 30, max_depth: 6, random_state: 7}", params)
    if training:
        text = text[: text.index("training:\n")] + training + text[text.index("evaluation:\n") :]
    if smtp_conn_id:
        text = text.replace(
            "email: [ml-oncall@example.com]",
            f"email: [ml-oncall@example.com]\n  smtp_conn_id: {smtp_conn_id}"
            + (f"\n  on: {mail_on}" if mail_on else ""),
        )
    path = folder / f"{name}.yaml"
    path.write_text(text)
    return path


def run_with_training(folder: Path, name: str, training: str) -> tuple[Path, dict]:
    """The example pipeline with this ``training:`` section, run once by the local runner."""
    from airflow_ml_provider.cli.local_run import run_pipeline_file

    path = write_pipeline(folder, name, training=training)
    return path, run_pipeline_file(path)


def run(path: Path) -> dict:
    from airflow_ml_provider.cli.local_run import run_pipeline_file

    return run_pipeline_file(path)


def clear_and_rerun(dag, run_id: str, task_id: str):
    """Clear one task instance of an existing DAG run and run it again in this process."""
    from airflow.models.dagrun import DagRun
    from airflow.models.taskinstance import clear_task_instances
    from airflow.sdk.definitions.dag import _run_task
    from airflow.utils.session import create_session
    from airflow.utils.state import TaskInstanceState
    from sqlalchemy import select

    with create_session() as session:
        dag_run = session.scalar(select(DagRun).where(DagRun.run_id == run_id))
        ti = dag_run.get_task_instance(task_id, session=session)
        clear_task_instances([ti], session)
        session.flush()
        ti.refresh_from_db(session=session)
        assert ti.state is None  # really cleared
        ti.try_number += 1
        ti.state = TaskInstanceState.SCHEDULED
        session.commit()
        session.refresh(ti)
        session.expunge(ti)
    _run_task(ti=ti, task=dag.get_task(task_id))
    with create_session() as session:
        dag_run = session.scalar(select(DagRun).where(DagRun.run_id == run_id))
        session.expunge(dag_run)
    return dag_run


def mlflow_runs_of(dag_run_id: str) -> list:
    """The MLflow training runs tagged with this DAG run."""
    import mlflow

    from airflow_ml_provider.hooks.mlflow import MlflowHook

    MlflowHook().get_conn()
    return mlflow.search_runs(
        search_all_experiments=True,
        filter_string=f"tags.`airflow_ml.dag_run_id` = '{dag_run_id}'",
        output_format="list",
    )


def champion_asset_events(model_name: str, *, extra: bool = False) -> list:
    """Run ids of the DAG runs that emitted ``x-mlmodel://<model>/champion`` (with
    ``extra``: (run id, the event's extra) pairs)."""
    from airflow.models.asset import AssetEvent, AssetModel
    from airflow.utils.session import create_session
    from sqlalchemy import select

    with create_session() as session:
        rows = session.execute(
            select(AssetEvent.source_run_id, AssetEvent.extra)
            .join(AssetModel, AssetEvent.asset_id == AssetModel.id)
            .where(AssetModel.uri == f"x-mlmodel://{model_name}/champion")
        ).all()
    return [(run_id, data) for run_id, data in rows] if extra else [r[0] for r in rows]


def tracking_tags(run_id: str) -> dict[str, str]:
    from airflow_ml_provider.hooks.mlflow import MlflowHook

    return MlflowHook().get_conn().get_run(run_id).data.tags


def versions_of(model_name: str) -> list[int]:
    from airflow_ml_provider.hooks.mlflow import MlflowHook

    client = MlflowHook().get_conn()
    return sorted(int(v.version) for v in client.search_model_versions(f"name='{model_name}'"))


def mail_parts(message) -> tuple[str, str]:
    """(HTML, plain text) of one of our mails, asserting its shape: multipart/alternative
    with exactly a text/plain and a text/html part, no attachment."""
    assert message.get_content_type() == "multipart/alternative", message.get_content_type()
    parts = {part.get_content_type(): part for part in message.get_payload()}
    assert list(parts) == ["text/plain", "text/html"], list(parts)
    assert not any(part.get_filename() for part in message.walk())
    decoded = {  # lines end in CRLF on the wire, as SMTP wants
        kind: part.get_payload(decode=True).decode().replace("\r\n", "\n")
        for kind, part in parts.items()
    }
    return decoded["text/html"], decoded["text/plain"]


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text, old
    path.write_text(text.replace(old, new))


def task_outcome(dag_run, task_id: str = "train_model") -> tuple[str, dict]:
    """(state, XComs by key) of ``task_id`` in this run."""
    from airflow.models.xcom import XComModel
    from airflow.utils.session import create_session

    with create_session() as session:
        ti = dag_run.get_task_instance(task_id, session=session)
        rows = session.scalars(
            XComModel.get_many(run_id=dag_run.run_id, dag_ids=dag_run.dag_id, task_ids=task_id)
        ).all()
        xcoms = {r.key: XComModel.deserialize_value(r) for r in rows}
        return (ti.state.value if hasattr(ti.state, "value") else ti.state), xcoms
