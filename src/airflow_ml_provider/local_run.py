"""Run one pipeline end to end on the embedded default through ``dag.test()``.

``prepare_environment`` must run before Airflow is imported: it pins AIRFLOW_HOME (./.airflow-ml
when unset — never the user's real Airflow home), SQLite and load_examples off.
"""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any
from unittest.mock import patch

from airflow_ml_provider.core.steps import STEP_NAMES
from airflow_ml_provider.spec.errors import SpecError

APPROVAL_TASK = "approve_promotion"


def use_scratch_home() -> Path:
    """Set AIRFLOW_HOME to ./.airflow-ml when unset (never the user's ~/airflow); no DB yet.

    Must run before Airflow is imported: Airflow creates its home when its config loads.
    """
    from airflow_ml_provider.settings import airflow_home

    home = airflow_home()
    home.mkdir(parents=True, exist_ok=True)
    os.environ["AIRFLOW_HOME"] = str(home)
    os.environ.setdefault("AIRFLOW__CORE__LOAD_EXAMPLES", "False")
    return home


def prepare_environment(dags_folder: Path | None = None) -> Path:
    """Point Airflow at a scratch home with SQLite; create its metadata DB once."""
    home = use_scratch_home()
    os.environ.setdefault("AIRFLOW__CORE__UNIT_TEST_MODE", "False")
    if dags_folder is not None:
        os.environ["AIRFLOW__CORE__DAGS_FOLDER"] = str(dags_folder.resolve())
    if not (home / "airflow.db").exists():
        with _home_lock("migrate"):  # two first runs at once must not both create the DB
            if not (home / "airflow.db").exists():
                subprocess.run(
                    [sys.executable, "-m", "airflow", "db", "migrate"],
                    check=True,
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,
                )
    return home


def check_deep(loaded) -> None:
    """Heavy checks (estimator import, params) before anything runs."""
    from airflow_ml_provider import settings
    from airflow_ml_provider.checks.deep_checks import deep_problems

    problems = deep_problems(loaded, settings.allowed_estimator_modules())
    if problems:
        raise SpecError(problems)


def register_for_test(dag) -> None:
    """Serialize a DAG built in this process so dag.test() can run it (Airflow 3.3 needs it)."""
    from airflow.dag_processing.bundles.manager import DagBundlesManager
    from airflow.dag_processing.dagbag import DagBag, sync_bag_to_db

    DagBundlesManager().sync_bundles_to_db()
    bag = DagBag(dag_folder="/dev/null", collect_dags=False)
    bag.bag_dag(dag)
    # The DAG processor writes a DAG at most every 30 s; a local run writes the DAG it is
    # about to run (its docs and pipeline card included) however recent the last write.
    with patch.dict(os.environ, {"AIRFLOW__CORE__MIN_SERIALIZED_DAG_UPDATE_INTERVAL": "0"}):
        sync_bag_to_db(bag, "dags-folder", None)


def create_run(
    dag_id: str,
    session,
    *,
    state: str = "running",
    when: datetime | None = None,
    scheduled: bool = False,
    run_id: str | None = None,
):
    """A run of a serialized DAG, created as the scheduler (``scheduled``) or a manual trigger
    would create it, with its task instances — for tests and benchmarks that need Airflow
    state without running the tasks."""
    from airflow.models.serialized_dag import SerializedDagModel
    from airflow.utils import timezone
    from airflow.utils.types import DagRunTriggeredByType, DagRunType

    when = when or timezone.utcnow()
    run_type = DagRunType.SCHEDULED if scheduled else DagRunType.MANUAL
    return SerializedDagModel.get_dag(dag_id, session=session).create_dagrun(
        run_id=run_id or f"{run_type.value}__{when.isoformat()}",
        logical_date=when,
        data_interval=(when, when),
        run_after=when,
        run_type=run_type,
        triggered_by=DagRunTriggeredByType.TIMETABLE if scheduled else DagRunTriggeredByType.TEST,
        state=state,
        session=session,
    )


def run_dag(dag) -> Any:
    """dag.test() the DAG once and return the DagRun.

    Retries are switched off: a local run reports the first failure at once instead of
    sleeping through retry delays (retries apply when the scheduler runs the DAG).
    """
    for task in dag.tasks:
        task.retries = 0
    # Airflow 3.3's dag.test() fails on a DAG with a deadline (DagRun.update_state looks the
    # SDK's DeadlineAlert objects up as database ids); a local run does not watch deadlines.
    dag.deadline = None
    register_for_test(dag)
    if APPROVAL_TASK not in dag.task_dict:
        return dag.test()
    stop = threading.Event()
    expiry = expire_unanswered_approvals(stop)
    try:
        return dag.test()
    finally:
        stop.set()
        expiry.join(10)


def expire_unanswered_approvals(stop: threading.Event, every: float = 1.0) -> threading.Thread:
    """Apply approval timeouts during a local run, as the scheduler does when deployed.

    dag.test() never resolves a request parked in "awaiting input"; this thread runs the
    scheduler's own sweep (``check_awaiting_input_timeouts``) until ``stop`` is set, so an
    unanswered request is rejected after ``deployment.approval_timeout`` here too.
    """
    # Constructed in the calling thread, and the ORM used only while a task is parked (the run
    # thread is then idle): SQLAlchemy configuring mappers from two threads, one of them
    # importing a module that defines more (MLflow's store), deadlocks.
    from airflow.jobs.job import Job
    from airflow.jobs.scheduler_job_runner import SchedulerJobRunner
    from airflow.utils.session import create_session
    from sqlalchemy import text

    scheduler = SchedulerJobRunner(job=Job())
    parked = text("SELECT 1 FROM task_instance WHERE state = 'awaiting_input'")

    def sweep_if_parked() -> None:
        with create_session() as session:
            if session.execute(parked).first() is None:
                return
        scheduler.check_awaiting_input_timeouts()

    def sweep() -> None:
        while not stop.wait(every):
            _retrying_later(sweep_if_parked)

    thread = threading.Thread(target=sweep, name="airflow-ml-approval-expiry", daemon=True)
    thread.start()
    return thread


def _retrying_later(call) -> Any:
    """Run ``call`` for a helper thread; None (try again later) when it failed, e.g. because
    SQLite was locked by the run's own writes. A helper thread that died would leave the run
    waiting for an answer that never comes, so every error is logged and retried."""
    try:
        return call()
    except Exception:
        logging.getLogger(__name__).warning("will retry after", exc_info=True)
        return None


def collect_result(dag, dag_run, model_name: str, mlflow_conn_id: str) -> dict[str, Any]:
    """One JSON-able dict describing the run (what ``airflow-ml run --json`` prints)."""
    from airflow.models.xcom import XComModel
    from airflow.utils.session import create_session

    with create_session() as session:
        rows = session.scalars(XComModel.get_many(run_id=dag_run.run_id, dag_ids=dag.dag_id)).all()
        xcoms = {(r.task_id, r.key): XComModel.deserialize_value(r) for r in rows}
        states: dict[str, str | None] = {}
        for ti in dag_run.get_task_instances(session=session):
            state = ti.state.value if hasattr(ti.state, "value") else ti.state
            # A mapped task is successful only when every one of its instances is.
            if states.get(ti.task_id, "success") == "success":
                states[ti.task_id] = state
    validation = xcoms.get(("validate_data", "validation")) or {}
    decision = xcoms.get(("evaluate_model", "return_value")) or {}
    registration = xcoms.get(("register_model", "return_value")) or {}
    training_task = (
        "assemble_model" if ("assemble_model", "return_value") in xcoms else "train_model"
    )
    training = xcoms.get((training_task, "return_value")) or {}
    state = dag_run.state.value if hasattr(dag_run.state, "value") else str(dag_run.state)
    return {
        "dag_id": dag.dag_id,
        "run_id": dag_run.run_id,
        "state": state,
        "tasks": dict(sorted(states.items(), key=lambda kv: _task_order(kv[0]))),
        "validation": {
            "success": validation.get("success"),
            "rows": validation.get("rows"),
            "failed_expectations": validation.get("failed_expectations", []),
            "guards": validation.get("guards", []),
            "schema_findings": (validation.get("schema") or {}).get("findings", []),
            "warnings": validation.get("warnings", []),
            "drift": validation.get("drift"),
            "data_docs_uri": validation.get("data_docs_uri"),
            "report_uri": validation.get("report_uri"),
        },
        "metrics": {
            "challenger": decision.get("challenger") or training.get("metrics"),
            "champion": decision.get("champion"),
        },
        "decision": {k: decision.get(k) for k in ("promote", "reason", "rules")}
        if decision
        else None,
        "promoted": bool(registration.get("promoted"))
        and states.get("register_model") == "success",
        "mlflow_run_id": training.get("run_id"),
        "partitions": training.get("partitions"),
        "snapshot": xcoms.get(("snapshot_data", "return_value")),
        "summary": xcoms.get(("notify", "return_value")),
        "links": {
            "mlflow_run": xcoms.get((training_task, "mlflow_run_url")),
            "model_version": xcoms.get(("register_model", "model_version_url")),
            "data_docs": xcoms.get(("validate_data", "_link_DataDocsLink")),
            "predictions": xcoms.get(("score_batch", "_link_PredictionsLink")),
        },
        "model": model_state(model_name, mlflow_conn_id, registration.get("version")),
    }


def _task_order(task_id: str) -> int:
    return STEP_NAMES.index(task_id) if task_id in STEP_NAMES else len(STEP_NAMES)


def model_state(model_name: str, mlflow_conn_id: str, version: int | None) -> dict[str, Any]:
    """The registered model as MLflow sees it now: this run's version and all aliases."""
    from mlflow.exceptions import MlflowException

    from airflow_ml_provider.hooks.mlflow import MlflowHook

    client = MlflowHook(mlflow_conn_id).get_conn()
    try:
        registered = client.get_registered_model(model_name)
    except MlflowException:
        return {"name": model_name, "version": None, "aliases": {}, "tracking_uri": None}
    return {
        "name": model_name,
        "version": version,
        "aliases": {alias: int(v) for alias, v in sorted(registered.aliases.items())},
        "tracking_uri": MlflowHook(mlflow_conn_id).tracking_uri,
    }


def run_pipeline_file(path: Path, say: Callable[[str], None] | None = None) -> dict[str, Any]:
    """Load, check and run one pipeline file; return the run's result dict.

    :param say: shows a person what the run is waiting for or cleaned up (stderr if None).
    """
    say = say or _to_stderr
    from airflow_ml_provider.factory.builder import build_dag
    from airflow_ml_provider.spec.loader import load_pipeline

    loaded = load_pipeline(path)
    check_deep(loaded)
    dag = build_dag(loaded)
    with one_run_at_a_time(loaded.dag_id, say):
        for run_id in fail_abandoned_runs(loaded.dag_id):
            say(f"run {run_id} of {loaded.dag_id} was left running by a killed local run; "
                "marked failed")  # fmt: skip
        dag_run = run_dag(dag)
    return collect_result(dag, dag_run, loaded.spec.model_name, loaded.spec.registry.mlflow_conn_id)


def fail_abandoned_runs(dag_id: str) -> list[str]:
    """Mark failed the local runs (dag.test) of ``dag_id`` still "running": called under the
    pipeline's lock, so no local run is alive — they were left by one that was killed.
    Runs the scheduler made are not touched. Returns their run ids."""
    from airflow.models.dagrun import DagRun
    from airflow.utils.session import create_session
    from airflow.utils.state import DagRunState, State, TaskInstanceState
    from airflow.utils.types import DagRunTriggeredByType
    from sqlalchemy import select

    with create_session() as session:
        runs = session.scalars(
            select(DagRun).where(
                DagRun.dag_id == dag_id,
                DagRun.state == DagRunState.RUNNING,
                DagRun.triggered_by == DagRunTriggeredByType.TEST,
            )
        ).all()
        for run in runs:
            for ti in run.get_task_instances(session=session):
                if ti.state not in State.finished:
                    ti.state = TaskInstanceState.FAILED
            run.set_state(DagRunState.FAILED)
        return [run.run_id for run in runs]


def _to_stderr(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


@contextmanager
def one_run_at_a_time(dag_id: str, say: Callable[[str], None] | None = None) -> Iterator[None]:
    """Hold this pipeline's lock in $AIRFLOW_HOME for a local run: a second local run of the
    same pipeline waits for the first, as max_active_runs: 1 makes runs wait under the
    scheduler (two runs must not both be judged against one champion and both promote)."""
    waiting = f"another local run of {dag_id} is running; waiting for it"
    with _home_lock(dag_id, lambda: (say or _to_stderr)(waiting)):
        yield


@contextmanager
def _home_lock(name: str, on_wait: Callable[[], None] | None = None) -> Iterator[None]:
    """An exclusive flock on $AIRFLOW_HOME/locks/<name>.lock (released if the process dies)."""
    import fcntl

    from airflow_ml_provider import settings

    folder = settings.airflow_home() / "locks"
    folder.mkdir(parents=True, exist_ok=True)
    with open(folder / f"{name}.lock", "w") as lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            if on_wait is not None:
                on_wait()
            fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def answer_approval(dag_id: str, choice: str, user: str, timeout: float = 600) -> threading.Thread:
    """Answer the pipeline's approval request ("Approve" or "Reject") as ``user`` once it
    appears, from a background thread, for local runs (``airflow-ml run --approve``).

    It calls Airflow's own HITL response handler (what the Required Actions page and
    ``PATCH .../hitlDetails`` run) with a session on this metadata DB, so the waiting
    ``dag.test()`` resumes exactly as it would for an answer given in the UI.
    """

    # Imported and mapped here, in the calling thread: SQLAlchemy configuring its mappers
    # from two threads at once (this one and dag.test()'s) deadlocks.
    from airflow.api_fastapi.auth.managers.simple.user import SimpleAuthManagerUser
    from airflow.api_fastapi.core_api.datamodels.hitl import UpdateHITLDetailPayload
    from airflow.api_fastapi.core_api.routes.public.hitl import update_hitl_detail
    from airflow.models import import_all_models
    from airflow.utils.session import create_session
    from sqlalchemy import text
    from sqlalchemy.orm import configure_mappers

    import_all_models()
    configure_mappers()
    # Plain SQL while waiting: it never makes SQLAlchemy (re)configure mappers. Answer only a
    # parked task: the request row exists a moment before the task parks, and Airflow records
    # an answer given in that moment without resuming the task, which then waits for ever.
    waiting = text(
        "SELECT ti.run_id FROM task_instance ti JOIN hitl_detail h ON h.ti_id = ti.id "
        "WHERE ti.dag_id = :dag_id AND ti.task_id = :task_id AND h.responded_at IS NULL "
        "AND ti.state = 'awaiting_input'"
    )

    def answer_if_asked() -> bool:
        with create_session() as session:
            run_id = session.execute(waiting, {"dag_id": dag_id, "task_id": APPROVAL_TASK}).scalar()
            if run_id is None:
                return False
            update_hitl_detail(
                dag_id=dag_id,
                dag_run_id=run_id,
                task_id=APPROVAL_TASK,
                update_hitl_detail_payload=UpdateHITLDetailPayload(chosen_options=[choice]),
                user=SimpleAuthManagerUser(username=user, role="admin"),
                session=session,
            )
            return True

    def respond() -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if _retrying_later(answer_if_asked):
                return
            time.sleep(0.5)

    thread = threading.Thread(target=respond, name="airflow-ml-approval", daemon=True)
    thread.start()
    return thread
