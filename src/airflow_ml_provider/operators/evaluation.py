"""evaluate_model: score challenger and champion on the same held-out rows and decide."""

from __future__ import annotations

from typing import Any

from airflow.sdk import BaseOperator

from airflow_ml_provider.core.connections import MLFLOW_CONN_ID
from airflow_ml_provider.core.contracts import GateDecision, Snapshot, TrainingResult
from airflow_ml_provider.core.defaults import (
    BASELINE_MIN_IMPROVEMENT,
    DEFAULT_SPLIT,
    PER_PARTITION_DEFAULTS,
    SLICE_DEFAULTS,
)
from airflow_ml_provider.core.step_job import EvaluateModelJob
from airflow_ml_provider.hooks.mlflow import MlflowHook


class EvaluateModelOperator(BaseOperator):
    """The champion/challenger gate.

    Scores the challenger (``training["model_uri"]``) and the current ``champion`` version
    on the same held-out rows of the snapshot, then promotes iff every threshold holds and
    the primary metric beats the champion by ``min_improvement``. With no champion, the
    thresholds alone decide. A partitioned model (``partition_by``) is also compared
    partition by partition: the rule ``partitions_regressed`` fails when more than
    ``per_partition["max_regressed_share"]`` of the judged partitions got worse by more than
    ``max_regression``; the table goes to the run as ``gate/partitions.csv``. The decision
    (each rule: value, bound, pass/fail) is returned, logged and stored on the challenger's
    MLflow run as ``gate/decision.json``.

    :param training: train_model's result (a TrainingResult; templated, usually an XComArg).
    :param snapshot: snapshot_data's result (a Snapshot; templated): the held-out rows come
        from it, split exactly as training split it.
    :param model_name: the registered model whose ``champion`` is the one to beat.
    :param target: the label column.
    :param task: ``classification`` or ``regression``.
    :param primary_metric: the metric that must beat the champion's.
    :param metrics: more metrics to score and report (and to threshold).
    :param features: the input columns (every column but the target when None).
    :param split: how training split the rows (``test_size``, ``seed``, ``stratify``).
    :param thresholds: metric -> the value it must reach (a floor, or a ceiling for losses).
    :param min_improvement: how much the primary metric must beat the champion by: a number,
        or a share of the champion's value such as ``"1%"``.
    :param mlflow_conn_id: the MLflow connection (the embedded store when it does not exist).
    :param partition_by: the partition column of a partitioned model (per-partition rules).
    :param per_partition: per-partition rule settings (``max_regression``,
        ``max_regressed_share``, ``min_rows``).
    :param max_regression: metric -> how much worse than the champion it may get.
    :param confidence: with a value such as 0.95, the improvement's bootstrap lower bound must
        clear ``min_improvement`` (a within-noise win does not promote).
    :param bootstrap_samples: bootstrap resamples behind ``confidence``.
    :param slices: per-slice rules: ``{column, max_gap, max_regression, min_rows}`` each.
    :param first_run: with no champion, ``promote_if_thresholds`` or ``require_approval``.
    :param importance: compute permutation (and SHAP, when installed) importance.
    :param sample_weight: a column weighting each held-out row in the metrics.
    :param baseline_min_improvement: how much the primary metric must beat a trivial
        baseline's (DummyClassifier with the class prior / DummyRegressor fitted on the
        training rows' labels) on the same held-out rows, first run included: a number or a
        share such as ``"1%"``; None turns the baseline rule off.
    :param positive_class: the class f1, precision, recall and average precision count as
        positive on a binary target; None: the training rows' minority class.
    :param plots: log the evaluation pictures of challenger and champion on the held-out
        rows (confusion matrix, ROC, precision-recall, calibration; predicted-vs-actual and
        residuals for regression) as ``gate/plots/*.png`` on the training run.
    """

    template_fields: tuple[str, ...] = ("training", "snapshot")
    ui_color = "#f3e8fa"

    def __init__(
        self,
        *,
        training: TrainingResult | Any,
        snapshot: Snapshot | Any,
        model_name: str,
        target: str,
        task: str,
        primary_metric: str,
        metrics: list[str] | None = None,
        features: list[str] | None = None,
        split: dict[str, Any] | None = None,
        thresholds: dict[str, float] | None = None,
        min_improvement: float | str = 0.0,
        mlflow_conn_id: str = MLFLOW_CONN_ID,
        partition_by: str | None = None,
        per_partition: dict[str, Any] | None = None,
        max_regression: dict[str, float] | None = None,
        confidence: float | None = None,
        bootstrap_samples: int = 1000,
        slices: list[dict[str, Any]] | None = None,
        first_run: str = "promote_if_thresholds",
        importance: bool = True,
        sample_weight: str | None = None,
        baseline_min_improvement: float | str | None = BASELINE_MIN_IMPROVEMENT,
        positive_class: str | int | float | bool | None = None,
        plots: bool = True,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.plots = plots
        self.positive_class = positive_class
        self.baseline_min_improvement = baseline_min_improvement
        self.sample_weight = sample_weight
        self.max_regression = max_regression or {}
        self.confidence = confidence
        self.bootstrap_samples = bootstrap_samples
        self.slices = [{**SLICE_DEFAULTS, **item} for item in slices or []]
        self.first_run = first_run
        self.importance = importance
        self.partition_by = partition_by
        self.per_partition = {**PER_PARTITION_DEFAULTS, **(per_partition or {})}
        self.training = training
        self.snapshot = snapshot
        self.model_name = model_name
        self.target = target
        self.task = task
        self.primary_metric = primary_metric
        self.metrics = list(dict.fromkeys([primary_metric, *(metrics or [])]))
        self.features = features
        self.split = split or dict(DEFAULT_SPLIT)
        self.thresholds = thresholds or {}
        self.min_improvement = min_improvement
        self.mlflow_conn_id = mlflow_conn_id

    def gate_job(self) -> EvaluateModelJob:
        """The gate's work as a step job (what ml.judge does, here or in a pod)."""
        return EvaluateModelJob(
            training=dict(self.training),
            snapshot=dict(self.snapshot),
            model_name=self.model_name,
            target=self.target,
            task=self.task,
            primary_metric=self.primary_metric,
            metrics=self.metrics,
            features=self.features,
            split=self.split,
            thresholds=self.thresholds,
            min_improvement=self.min_improvement,
            partition_by=self.partition_by,
            per_partition=self.per_partition,
            max_regression=self.max_regression,
            confidence=self.confidence,
            bootstrap_samples=self.bootstrap_samples,
            slices=self.slices,
            first_run=self.first_run,
            importance=self.importance,
            sample_weight=self.sample_weight,
            baseline_min_improvement=self.baseline_min_improvement,
            positive_class=self.positive_class,
            plots=self.plots,
        )

    def execute(self, context) -> GateDecision:
        from airflow_ml_provider.ml.judge import judge

        return judge(self.gate_job(), MlflowHook(self.mlflow_conn_id).get_conn())
