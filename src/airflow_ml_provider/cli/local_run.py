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
from pathlib import Path
from typing import TYPE_CHECKING, Any

from airflow_ml_provider import settings
from airflow_ml_provider.cli.airflow_compat import (
    approval_answerer,
    approval_timeout_sweep,
    fail_running_test_runs,
    run_outputs,
    serialize_dag,
)
from airflow_ml_provider.core.env import MLFLOW_TELEMETRY_OFF, scoped_environ
from airflow_ml_provider.core.steps import STEP_NAMES
from airflow_ml_provider.pipeline_spec.errors import SpecError

if TYPE_CHECKING:
    from airflow.sdk import DAG

    from airflow_ml_provider.pipeline_spec.loader import LoadedPipeline

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
    for name, value in MLFLOW_TELEMETRY_OFF.items():  # before this process imports MLflow
        os.environ.setdefault(name, value)
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


def check_deep(loaded: LoadedPipeline) -> None:
    """Heavy checks (estimator import, params) before anything runs."""
    from airflow_ml_provider.checks.deep_checks import deep_problems

    problems = deep_problems(loaded, settings.allowed_estimator_modules())
    if problems:
        raise SpecError(problems)


def run_dag(dag: DAG, conf: dict[str, Any] | None = None) -> Any:
    """dag.test() the DAG once (with ``conf`` as the run's conf) and return the DagRun.

    Retries are switched off: a local run reports the first failure at once instead of
    sleeping through retry delays (retries apply when the scheduler runs the DAG).
    """
    for task in dag.tasks:
        task.retries = 0
    # Airflow 3.3's dag.test() fails on a DAG with a deadline (DagRun.update_state looks the
    # SDK's DeadlineAlert objects up as database ids); a local run does not watch deadlines.
    dag.deadline = None
    serialize_dag(dag)
    # Tasks run in this process, one after another: training reuses its warm imports
    # (scikit-learn, MLflow, pandas) instead of paying them again in a subprocess per job.
    chosen = os.environ.get(settings.LOCAL_TRAINING_ENV, settings.LOCAL_TRAINING_IN_PROCESS)
    with scoped_environ({settings.LOCAL_TRAINING_ENV: chosen}):
        if APPROVAL_TASK not in dag.task_dict:
            return dag.test(run_conf=conf)
        stop = threading.Event()
        expiry = expire_unanswered_approvals(stop)
        try:
            return dag.test(run_conf=conf)
        finally:
            stop.set()
            expiry.join(10)


def expire_unanswered_approvals(stop: threading.Event, every: float = 1.0) -> threading.Thread:
    """Apply approval timeouts during a local run, as the scheduler does when deployed.

    dag.test() never resolves a request parked in "awaiting input"; this thread runs the
    scheduler's own sweep (``check_awaiting_input_timeouts``) until ``stop`` is set, so an
    unanswered request is rejected after ``deployment.approval_timeout`` here too.
    """
    sweep_if_parked = approval_timeout_sweep()  # built in this, the run's, thread

    def sweep() -> None:
        while not stop.wait(every):
            _retrying_later(sweep_if_parked)

    thread = threading.Thread(target=sweep, name="airflow-ml-approval-expiry", daemon=True)
    thread.start()
    return thread


def _retrying_later(call: Callable[[], Any]) -> Any:
    """Run ``call`` for a helper thread; None (try again later) when it failed, e.g. because
    SQLite was locked by the run's own writes. A helper thread that died would leave the run
    waiting for an answer that never comes, so every error is logged and retried."""
    try:
        return call()
    except Exception:
        logging.getLogger(__name__).warning("will retry after", exc_info=True)
        return None


DECISION_KEYS = ("promote", "reason", "rules", "baseline", "positive_class", "plots")
"""What a run's result shows of the gate's decision."""


def collect_result(dag: DAG, dag_run: Any, model_name: str, mlflow_conn_id: str) -> dict[str, Any]:
    """One JSON-able dict describing the run (what ``airflow-ml run --json`` prints)."""
    xcoms, states, failures = run_outputs(dag.dag_id, dag_run)
    validation = xcoms.get(("validate_data", "validation")) or {}
    decision = xcoms.get(("evaluate_model", "return_value")) or {}
    registration = xcoms.get(("register_model", "return_value")) or {}
    training_task = next(
        (task for task in TRAINING_TASKS if (task, "return_value") in xcoms), "train_model"
    )
    training = xcoms.get((training_task, "return_value")) or {}
    changes = xcoms.get(("check_changes", "return_value")) or {}
    state = dag_run.state.value if hasattr(dag_run.state, "value") else str(dag_run.state)
    return {
        "dag_id": dag.dag_id,
        "run_id": dag_run.run_id,
        "state": state,
        "error": failures[0] if failures else None,  # the first failure is the cause
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
        "decision": {k: decision.get(k) for k in DECISION_KEYS} if decision else None,
        "promoted": bool(registration.get("promoted"))
        and states.get("register_model") == "success",
        "unchanged": bool(changes.get("unchanged")),
        "changes": changes or None,
        "mlflow_run_id": training.get("run_id"),
        "training_warnings": training.get("warnings", []),
        "partitions": training.get("partitions"),
        "candidates": training.get("candidates"),
        "winner": training.get("winner"),
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


TRAINING_TASKS = ("assemble_model", "select_model", "train_model")
"""The steps whose result is the training's (partitioned, candidates, one model)."""


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


def run_pipeline_file(
    path: Path,
    say: Callable[[str], None] | None = None,
    retrain: bool = False,
    checked: LoadedPipeline | None = None,
) -> dict[str, Any]:
    """Load, check and run one pipeline file; return the run's result dict.

    :param say: shows a person what the run is waiting for or cleaned up (stderr if None).
    :param retrain: train even when the data and configuration equal the champion's.
    :param checked: ``path`` already loaded and deep-checked (not done twice).
    """
    say = say or _to_stderr
    from airflow_ml_provider.factory.builder import build_dag
    from airflow_ml_provider.operators.changes import RETRAIN_PARAM
    from airflow_ml_provider.pipeline_spec.loader import load_pipeline

    loaded = checked
    if loaded is None:
        loaded = load_pipeline(path)
        check_deep(loaded)
    dag = build_dag(loaded)
    with one_run_at_a_time(loaded.dag_id, say):
        for run_id in fail_abandoned_runs(loaded.dag_id):
            say(f"run {run_id} of {loaded.dag_id} was left running by a killed local run; "
                "marked failed")  # fmt: skip
        dag_run = run_dag(dag, {RETRAIN_PARAM: True} if retrain else None)
    result = collect_result(
        dag, dag_run, loaded.spec.model_name, loaded.spec.registry.mlflow_conn_id
    )
    return result


def fail_abandoned_runs(dag_id: str) -> list[str]:
    """Mark failed the local runs (dag.test) of ``dag_id`` still "running": called under the
    pipeline's lock, so no local run is alive — they were left by one that was killed.
    Runs the scheduler made are not touched. Returns their run ids."""
    return fail_running_test_runs(dag_id)


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

    answer_if_asked = approval_answerer(dag_id, APPROVAL_TASK, choice, user)  # this thread

    def respond() -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if _retrying_later(answer_if_asked):
                return
            time.sleep(0.5)

    thread = threading.Thread(target=respond, name="airflow-ml-approval", daemon=True)
    thread.start()
    return thread
