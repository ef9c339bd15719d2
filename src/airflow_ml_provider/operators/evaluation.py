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
from airflow_ml_provider.hooks.mlflow import MlflowHook
from airflow_ml_provider.ml.evaluation.gate import PARTITION_TABLE
from airflow_ml_provider.ml.registry.aliases import CHAMPION, PREVIOUS, holder

SLICE_TABLE = "gate/slices.csv"
IMPORTANCE_TABLE = "gate/permutation_importance.csv"
SHAP_TABLE = "gate/shap_importance.csv"
HELDOUT_TABLE = "gate/heldout_rows.csv"


def current_champion(client, model_name: str, challenger_run_id: str | None = None):
    """The model version holding the ``champion`` alias, or None (no model, no alias).

    When that version is the challenger itself (this run was evaluated and promoted before,
    and evaluate_model is re-run), the champion it was judged against — ``previous`` — is
    returned instead, so a re-run decides the same as the first run."""
    number = holder(client, model_name, CHAMPION)
    version = client.get_model_version(model_name, number) if number else None
    if version is not None and challenger_run_id and version.run_id == challenger_run_id:
        number = holder(client, model_name, PREVIOUS)
        version = client.get_model_version(model_name, number) if number else None
    return version


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

    template_fields = ("training", "snapshot")
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

    def _log_plots(self, client, run_id: str, figures: dict[str, Any]) -> list[str]:
        """Log each figure as ``gate/plots/<name>.png`` on the run; return the names."""
        from airflow_ml_provider.ml.evaluation.plots import plot_path

        for name, figure in figures.items():
            client.log_figure(run_id, figure, plot_path(name))
        return list(figures)

    def execute(self, context) -> GateDecision:
        from airflow_ml_provider.ml.data.dataset import data_section
        from airflow_ml_provider.ml.data.tables import records_csv
        from airflow_ml_provider.ml.evaluation.evaluate import score_models
        from airflow_ml_provider.ml.evaluation.gate import (
            confidence_rule,
            decide,
            partition_comparison,
            regression_rules,
            required_gain,
            slice_rules,
        )
        from airflow_ml_provider.ml.partitions.answers import recorded_answers

        client = MlflowHook(self.mlflow_conn_id).get_conn()
        champion = current_champion(client, self.model_name, self.training.get("run_id"))
        champion_uri = f"models:/{self.model_name}/{champion.version}" if champion else None
        data = data_section(
            self.snapshot, self.target, self.features, self.split, self.partition_by
        )
        scores = score_models(
            data,
            self.task,
            self.metrics,
            self.training["model_uri"],
            champion_uri,
            confidence=self.confidence,
            bootstrap_samples=self.bootstrap_samples,
            slices=[item["column"] for item in self.slices],
            importance=self.importance,
            sample_weight=self.sample_weight,
            challenger_answers=recorded_answers(client, self.training, data),
            baseline=self.baseline_min_improvement is not None,
            positive_class_setting=self.positive_class,
            plots=self.plots,
        )
        extra = regression_rules(scores["challenger"], scores["champion"], self.max_regression)
        if "bootstrap" in scores:
            extra.append(
                confidence_rule(
                    scores["bootstrap"],
                    self.primary_metric,
                    required_gain(self.min_improvement, scores["champion"][self.primary_metric]),
                )
            )
        slice_table: list[dict[str, Any]] = []
        for item in self.slices:
            rules, rows = slice_rules(
                item["column"],
                scores["slices"][item["column"]],
                metric=self.primary_metric,
                max_gap=item["max_gap"],
                max_regression=item["max_regression"],
                min_rows=item["min_rows"],
            )
            extra.extend(rules)
            slice_table.extend(rows)
        table = None
        if "partitions" in scores:
            partition_rule, table = partition_comparison(
                scores["partitions"]["challenger"],
                scores["partitions"]["champion"],
                metric=self.primary_metric,
                **self.per_partition,
            )
            extra.extend([partition_rule] if partition_rule else [])
        decision = decide(
            scores["challenger"],
            scores["champion"],
            primary_metric=self.primary_metric,
            thresholds=self.thresholds,
            min_improvement=self.min_improvement,
            extra_rules=extra,
            first_run=self.first_run,
            baseline=scores.get("baseline"),
            baseline_min_improvement=self.baseline_min_improvement or 0.0,
        )
        if table is not None:
            decision["partitions"] = self._report_partitions(client, table)
        run_id = self.training["run_id"]
        if "bootstrap" in scores:
            decision["bootstrap"] = scores["bootstrap"]
        if slice_table:
            decision["slices"] = slice_table
            client.log_text(run_id, records_csv(slice_table), SLICE_TABLE)
        if "importance" in scores:
            decision["importance"] = scores["importance"][:10]
            client.log_text(run_id, records_csv(scores["importance"]), IMPORTANCE_TABLE)
        if "shap" in scores:
            decision["shap"] = scores["shap"][:10]
            client.log_text(run_id, records_csv(scores["shap"]), SHAP_TABLE)
        client.log_text(run_id, scores["heldout_rows"], HELDOUT_TABLE)
        if scores.get("figures"):
            decision["plots"] = self._log_plots(client, run_id, scores["figures"])
            decision["mlflow_run_id"] = run_id
        decision["heldout_rows"] = HELDOUT_TABLE
        decision["challenger"] = scores["challenger"]
        decision["champion"] = scores["champion"]
        if "baseline" in scores:
            decision["baseline"] = {"model": scores["baseline_model"], **scores["baseline"]}
        decision["champion_version"] = int(champion.version) if champion else None
        decision["primary_metric"] = self.primary_metric
        decision["rows"] = scores["rows"]
        if scores.get("positive_class") is not None:
            decision["positive_class"] = scores["positive_class"]
        for rule in decision["rules"]:
            self.log.info(
                "%-15s %-12s value=%.4f bound=%.4f %s",
                rule["rule"],
                rule["metric"],
                rule["value"],
                rule["bound"],
                "PASS" if rule["passed"] else "FAIL",
            )
        self.log.info(
            "decision: %s (%s)",
            "PROMOTE" if decision["promote"] else "KEEP CHAMPION",
            decision["reason"],
        )
        client.log_dict(self.training["run_id"], decision, "gate/decision.json")
        client.set_tag(
            self.training["run_id"],
            "airflow_ml.gate",
            "promote" if decision["promote"] else "reject",
        )
        return decision

    def _report_partitions(self, client, table: list[dict[str, Any]]) -> dict[str, Any]:
        """Log the worst partitions, store the whole table, return counts for the decision."""
        from airflow_ml_provider.ml.data.tables import records_csv

        judged = [row for row in table if row["judged"]]
        worst = sorted(judged, key=lambda row: row["delta"])[:10]
        for row in worst:
            self.log.info(
                "partition %-20s rows=%-5d challenger=%.4f champion=%.4f %s",
                row["partition"],
                row["rows"],
                row["challenger"],
                row["champion"],
                "REGRESSED" if row["regressed"] else "",
            )
        client.log_text(self.training["run_id"], records_csv(table), PARTITION_TABLE)
        return {
            "partitions": len(table),
            "judged": len(judged),
            "regressed": sum(row["regressed"] for row in judged),
            "worst": worst[:5],
            "table": PARTITION_TABLE,
        }
