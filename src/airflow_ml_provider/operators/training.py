"""train_model: run the training entrypoint (local runner: a subprocess on the worker)."""

from __future__ import annotations

import contextlib
import inspect
import json
import os
import subprocess
import sys
import tempfile
from collections import deque
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, Literal

from airflow.sdk import BaseOperator
from airflow.sdk.exceptions import AirflowException

from airflow_ml_provider.core.connections import MLFLOW_CONN_ID
from airflow_ml_provider.core.contracts import Snapshot, Validation, validation_record
from airflow_ml_provider.core.defaults import DEFAULT_SPLIT
from airflow_ml_provider.core.env import scoped_environ
from airflow_ml_provider.core.training_job import JOB_VERSION
from airflow_ml_provider.ml.training.abandoned_runs import RunningTry, end_abandoned_runs
from airflow_ml_provider.ml.training.warm_process import TRAIN_MODULE, WarmJob, start_warm_job
from airflow_ml_provider.operators.links import MlflowRunLink, record_link
from airflow_ml_provider.operators.training_process import LogLines, spawn_tied, training_error


class TrainingJobOperator(BaseOperator):
    """What both training runners share: the training arguments and the JSON job built from them.

    ``build_job`` is the one place the job is built: the local runner writes it to a file for
    a subprocess, the Kubernetes runner hands it to the pod. Subclasses add ``execute``; the
    Kubernetes runner also inherits from KubernetesPodOperator (this class comes first in
    its bases, consumes the training keyword arguments and passes the rest on).

    :param snapshot: snapshot_data's result (a Snapshot; templated, usually an XComArg).
    :param pipeline: the pipeline id (tags, the experiment's default name).
    :param target: the label column.
    :param estimator: the estimator's import path (e.g.
        ``sklearn.ensemble.RandomForestClassifier``), under the allowed modules.
    :param task: ``classification`` or ``regression``.
    :param metrics: metrics scored on the held-out rows and logged.
    :param features: the input columns (every column but the target when None).
    :param estimator_params: the estimator's keyword arguments, checked against its own
        parameter constraints before it fits.
    :param split: ``test_size``, ``seed``, ``stratify`` of the train/held-out split.
    :param experiment_name: the MLflow experiment (``airflow-ml/<pipeline>`` when None).
    :param config_hash: the pipeline configuration's hash, tagged on the run.
    :param mlflow_conn_id: the MLflow connection (the embedded store when it does not exist).
    :param allowed_estimator_modules: module prefixes the estimator may come from; default
        ``[ml_provider] allowed_estimator_modules``.
    :param validation: validate_data's result (templated), logged with the run.
    :param search: a hyper-parameter search (``training.search`` of the YAML), or None.
    :param pipeline_file: the YAML file, for the run's provenance (its git commit).
    :param partition_by: the partition column of a partitioned model.
    :param partitions: the chunk of partitions this task trains (a mapped task's input).
    :param feature_preprocessing: the ``features:`` section as JSON (column types and
        preprocessing, see ``core.features.FeaturesSpec``); empty: every type inferred with
        the defaults. Fitted on the train split and logged inside the model.
    :param allowed_transformer_modules: packages team transformers (``features.custom``) may
        be classes of; default ``[ml_provider] allowed_transformer_modules``.
    :param allowed_callables: exact import paths of the functions the job may name
        (tokenizers); default ``[ml_provider] allowed_callables``.
    :param candidate: ``{name, folds, worker, workers}``: this job is one of
        training.candidates (or one of an Optuna search's workers) — it cross-validates the
        estimator on the train split and reports its scores (ml.training.candidates) instead of
        registering a model.
    :param positive_class: the class f1, precision, recall and average precision count as
        positive on a binary target; None: the training rows' minority class.
    :param class_weight: ``auto``, ``balanced`` or ``none`` (see ``ml.training.class_weights``).
    :param entrypoint: a team's training function, ``package.module:function``, instead of
        ``estimator``: called in the training process with the typed job
        (``core.training_job.TrainingJob``) and the train and validation rows, it returns a
        ``TrainedModel`` (see ``ml.training.entrypoint``).
    :param allowed_training_modules: packages the entrypoint may come from; default
        ``[ml_provider] allowed_training_modules`` (none).
    :param abandoned_runs: when this task ends the MLflow runs killed tries left RUNNING
        (``ml.training.abandoned_runs``): ``every_try`` (default) looks for all of this DAG's;
        ``retries`` only on a retry, for its own earlier tries — for mapped tasks followed by
        an unmapped training task that ends the rest (the factory's candidates and partition
        chunks: select_model and assemble_model), so that each does not pay MLflow's import.
    """

    template_fields: tuple[str, ...] = ("snapshot", "validation")
    operator_extra_links = (MlflowRunLink(),)
    ui_color = "#e6f2e6"

    def __init__(
        self,
        *,
        snapshot: Snapshot | Any,
        pipeline: str,
        target: str,
        estimator: str | None,
        task: str,
        metrics: list[str],
        features: list[str] | None = None,
        estimator_params: dict[str, Any] | None = None,
        split: dict[str, Any] | None = None,
        experiment_name: str | None = None,
        config_hash: str = "",
        mlflow_conn_id: str = MLFLOW_CONN_ID,
        allowed_estimator_modules: tuple[str, ...] | None = None,
        validation: Validation | Any = None,
        search: dict[str, Any] | None = None,
        pipeline_file: str | None = None,
        partition_by: str | None = None,
        partitions: dict[str, Any] | None = None,
        feature_preprocessing: dict[str, Any] | None = None,
        allowed_transformer_modules: tuple[str, ...] | None = None,
        allowed_callables: tuple[str, ...] | None = None,
        candidate: dict[str, Any] | None = None,
        positive_class: str | int | float | bool | None = None,
        class_weight: str = "auto",
        entrypoint: str | None = None,
        allowed_training_modules: tuple[str, ...] | None = None,
        abandoned_runs: Literal["every_try", "retries"] = "every_try",
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.abandoned_runs = abandoned_runs
        self.entrypoint = entrypoint
        self.allowed_training_modules = allowed_training_modules
        self.candidate = candidate
        self.class_weight = class_weight
        self.positive_class = positive_class
        self.refit: dict[str, Any] | None = None  # set by candidate selection (select_model)
        self.feature_preprocessing = feature_preprocessing or {}
        self.allowed_transformer_modules = allowed_transformer_modules
        self.allowed_callables = allowed_callables
        self.snapshot = snapshot
        self.partition_by = partition_by
        self.partitions = partitions
        self.validation = validation
        self.search = search
        self.pipeline_file = pipeline_file
        self.pipeline = pipeline
        self.target = target
        self.features = features
        self.estimator = estimator
        self.task = task
        self.metrics = metrics
        self.estimator_params = estimator_params or {}
        self.split = split or dict(DEFAULT_SPLIT)
        self.experiment_name = experiment_name or f"airflow-ml/{pipeline}"
        self.config_hash = config_hash
        self.mlflow_conn_id = mlflow_conn_id
        self.allowed_estimator_modules = allowed_estimator_modules

    def build_job(self, context, hook) -> dict[str, Any]:
        """The JSON job both runners hand to the training entrypoint."""
        from airflow_ml_provider import settings
        from airflow_ml_provider.ml.data.dataset import data_section

        run_id = context["run_id"]
        return {
            "version": JOB_VERSION,
            "estimator": self.estimator,
            "entrypoint": self.entrypoint,
            "params": self.estimator_params,
            "task": self.task,
            "metrics": self.metrics,
            "positive_class": self.positive_class,
            "class_weight": self.class_weight,
            "allowed_estimator_modules": list(
                self.allowed_estimator_modules or settings.allowed_estimator_modules()
            ),
            "features": self.feature_preprocessing,
            "allowed_transformer_modules": list(
                self.allowed_transformer_modules or settings.allowed_transformer_modules()
            ),
            "allowed_callables": list(
                settings.allowed_callables()
                if self.allowed_callables is None
                else self.allowed_callables
            ),
            "allowed_training_modules": list(
                settings.allowed_training_modules()
                if self.allowed_training_modules is None
                else self.allowed_training_modules
            ),
            "data": data_section(
                self.snapshot, self.target, self.features, self.split, self.partition_by
            ),
            "partitions": self.partitions,
            "tracking_uri": hook.tracking_uri,
            "experiment_name": self.experiment_name,
            "artifact_location": hook.experiment_artifact_location(self.experiment_name),
            "run_name": f"{self.pipeline}/{run_id}",
            "validation": validation_record(self.validation),
            "search": self.search,
            "candidate": self.candidate,
            "study": self._study(run_id),
            "refit": self.refit,
            "pipeline_file": self.pipeline_file,
            "tags": {
                "airflow_ml.pipeline": self.pipeline,
                "airflow_ml.dag_id": context["dag"].dag_id,
                "airflow_ml.dag_run_id": run_id,
                "airflow_ml.try_number": context["ti"].try_number,
                "airflow_ml.data_sha256": self.snapshot.get("sha256", ""),
                "airflow_ml.data_uri": self.snapshot["uri"],
                "airflow_ml.data_format": self.snapshot["format"],
                "airflow_ml.config_hash": self.config_hash,
                "airflow_ml.trigger": why_it_ran(context),
                **running_try(context).tags(),
            },
        }

    def end_abandoned_runs(self, context, hook) -> None:
        """End as KILLED this DAG's MLflow runs that Airflow says cannot still be running
        (ml.training.abandoned_runs). Called by each runner's execute before it trains; a store that
        cannot be asked is left to the training itself to report."""
        ti = context["ti"]
        if self.abandoned_runs == "retries" and ti.try_number <= 1:
            return
        from mlflow.exceptions import MlflowException  # after: a first try skips MLflow's import

        def dag_run_state(run_id: str) -> str | None:
            try:
                state = ti.get_dagrun_state(ti.dag_id, run_id)
            except Exception:  # a deleted DAG run, an older Airflow: unknown, left alone
                return None
            return str(getattr(state, "value", state))

        try:
            client = hook.get_conn()
            experiment = client.get_experiment_by_name(self.experiment_name)
            if experiment is None:
                return
            now = running_try(context)
            ended = end_abandoned_runs(client, experiment.experiment_id, now, dag_run_state)
        except (MlflowException, OSError) as error:
            self.log.warning("could not look for MLflow runs killed tries left: %s", error)
            return
        for run_id in ended:
            self.log.warning("ended MLflow run %s as KILLED: a killed try left it RUNNING", run_id)

    @property
    def candidate_label(self) -> str:
        """The mapped task's label in the UI: the candidate (and search worker)."""
        from airflow_ml_provider.ml.training.candidates import worker_label

        return worker_label(self.candidate) if self.candidate else ""

    def _study(self, run_id: str) -> dict[str, Any] | None:
        """An Optuna search's study: its name and, for workers sharing it on this host
        without a database connection, the journal file."""
        if not (self.search and self.search.get("method") == "optuna" and self.candidate):
            return None
        from airflow_ml_provider.hooks.study import journal_file, study_name

        name = study_name(self.pipeline, run_id, self.candidate["name"])
        shared = int(self.candidate.get("workers", 1)) > 1 and not self.search.get(
            "storage_conn_id"
        )
        return {"name": name, "journal": journal_file(name) if shared else None}

    def study_env(self) -> dict[str, str]:
        """The study database's URL for the training process (never in the job)."""
        conn_id = (self.search or {}).get("storage_conn_id")
        if not conn_id:
            return {}
        from airflow_ml_provider.hooks.study import storage_url
        from airflow_ml_provider.ml.search.optuna_study import STUDY_STORAGE_ENV

        return {STUDY_STORAGE_ENV: storage_url(conn_id)}

    def push_run_link(self, context, hook, result: Mapping[str, Any]) -> None:
        """The MLflow run URL as XCom ``mlflow_run_url`` (the MlflowRunLink extra link).

        A chunk of per-partition models has no run of its own (the assembled model has)."""
        self.lineage_result, self.lineage_tracking = result, hook.tracking_uri
        if not result.get("run_id"):
            return
        url = hook.run_url(result["experiment_id"], result["run_id"])
        if url:
            record_link(self, context, MlflowRunLink.key, url)
        scores = result.get("metrics") or result.get("cv")  # a candidate has CV scores
        self.log.info("MLflow run %s; scores %s", result["run_id"], scores)

    def get_openlineage_facets_on_complete(self, task_instance):
        """OpenLineage: the snapshot in, the run's logged model out (none for a chunk of
        partition models: the assembled model is), its metrics."""
        from airflow_ml_provider.operators import lineage

        result, tracking_uri = lineage.kept(self)
        model = result.get("model_uri")
        return lineage.operator_lineage(
            [lineage.snapshot_dataset(self.snapshot)],
            [lineage.model_dataset(tracking_uri, model)] if model else [],
            {"airflowMlMetrics": lineage.MlMetricsRunFacet(challenger=result.get("metrics", {}))},
        )


class LocalTrainingOperator(TrainingJobOperator):
    """Train a model by running ``python -m airflow_ml_provider.ml.train --job job.json``.

    The job is plain JSON (data snapshot, split, estimator, params, metrics, MLflow
    experiment, tags); MLflow credentials travel in the environment, never in the job.
    The Kubernetes runner (operators.kubernetes_training) starts the very same entrypoint in
    a pod. Returns the training result: ``{run_id, model_uri, metrics, rows_train, ...}``.
    """

    def execute(self, context) -> dict[str, Any]:
        from airflow_ml_provider import settings
        from airflow_ml_provider.hooks.mlflow import MlflowHook

        hook = MlflowHook(self.mlflow_conn_id)
        job = self.build_job(context, hook)
        if settings.local_training() == settings.LOCAL_TRAINING_IN_PROCESS:
            self.end_abandoned_runs(context, hook)
            result = self._train_in_process(job, hook)
            self.push_run_link(context, hook, result)
            return result
        with tempfile.TemporaryDirectory(prefix="airflow-ml-train-") as scratch:
            job_path, output = Path(scratch) / "job.json", Path(scratch) / "result.json"
            job["output"] = str(output)
            job_path.write_text(json.dumps(job, indent=2))
            # Other tries' runs are ended while the job starts (it opens a run of this try,
            # which is never one of them): this process's MLflow import overlaps the job's
            # start-up instead of delaying it (it still takes CPU the job may want).
            self._run(
                ["--job", str(job_path)], hook, lambda: self.end_abandoned_runs(context, hook)
            )
            result = json.loads(output.read_text())
        self.push_run_link(context, hook, result)
        return result

    def _train_in_process(self, job: dict[str, Any], hook) -> dict[str, Any]:
        """The entrypoint's function in this process: its environment set for the call, its
        output in the task log, an input error in one line as the subprocess would say it."""
        from airflow_ml_provider.ml.train import error_line, reported_errors, train

        self.log.info("training in this process ([ml_provider] local_training = in_process)")
        lines = LogLines(self.log, sys.stdout)
        environ = {**hook.subprocess_env(), **self.study_env()}
        with scoped_environ(environ), contextlib.redirect_stdout(lines):
            try:
                return dict(train(job))
            except reported_errors() as exc:
                raise AirflowException(f"training failed: {error_line(exc)}") from None
            finally:
                lines.flush()

    def _run(
        self, arguments: list[str], hook, meanwhile: Callable[[], None] = lambda: None
    ) -> None:
        """``python -m TRAIN_MODULE *arguments``: a fresh interpreter tied to this process,
        or a job forked by the worker's warm training process (``local_training = warm``);
        ``meanwhile`` runs here once the job has started."""
        from airflow_ml_provider import settings

        env = {**os.environ, **hook.subprocess_env(), **self.study_env(), "PYTHONUNBUFFERED": "1"}
        tail: deque[str] = deque(maxlen=20)
        process: subprocess.Popen | WarmJob
        if settings.local_training() == settings.LOCAL_TRAINING_WARM:
            self.log.info("training in the warm training process: %s", " ".join(arguments))
            process = start_warm_job(arguments, env)
        else:
            command = [sys.executable, "-m", TRAIN_MODULE, *arguments]
            self.log.info("running %s", " ".join(command))
            process = spawn_tied(command, env)
        try:
            meanwhile()
            assert process.stdout is not None
            for line in process.stdout:
                tail.append(line.rstrip())
                self.log.info("%s", line.rstrip())
            code = process.wait()
        finally:
            if process.poll() is None:  # killed or timed out: leave nothing running
                process.kill()
                process.wait()
        if code != 0:
            raise AirflowException(
                f"training failed: {training_error(list(tail), code)}\n"
                "last lines of the training process:\n" + "\n".join(tail)
            )


def running_try(context) -> RunningTry:
    """The task instance try ``context`` runs."""
    ti = context["ti"]
    return RunningTry(
        dag_id=ti.dag_id,
        run_id=context["run_id"],
        task_id=ti.task_id,
        map_index=ti.map_index if ti.map_index is not None else -1,
        try_number=ti.try_number,
    )


TRAINING_JOB_ARGUMENTS = frozenset(
    name
    for name in inspect.signature(TrainingJobOperator.__init__).parameters
    if name not in ("self", "kwargs")
)
"""The keyword arguments TrainingJobOperator itself takes (the rest go to the runner)."""


def why_it_ran(context) -> str:
    """Why this DAG run exists, in words: schedule, new data (the assets that triggered it),
    manual, backfill."""
    run = context.get("dag_run")
    if run is None:  # a context built outside a DAG run (e.g. rendering a pod spec)
        return "unknown"
    kind = str(getattr(run.run_type, "value", run.run_type))
    if kind == "asset_triggered":
        events = context.get("triggering_asset_events") or {}
        uris = sorted({str(getattr(asset, "uri", asset)) for asset in events})
        return f"new data: {', '.join(uris)}" if uris else "new data"
    return {"scheduled": "schedule"}.get(kind, kind)
