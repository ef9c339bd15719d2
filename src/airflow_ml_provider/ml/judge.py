"""The gate's work in one call: the challenger and the champion scored on the same held-out
rows, every rule decided, and the decision with its tables logged on the challenger's run.

What evaluate_model does on the worker and in its pod (an EvaluateModelJob through
``python -m airflow_ml_provider.ml.step``). No Airflow imports: the MLflow client is the
caller's (the connection's on the worker, the environment's in a pod).
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from airflow_ml_provider.core.contracts import GateDecision
from airflow_ml_provider.core.step_job import EvaluateModelJob
from airflow_ml_provider.ml.evaluation.gate import PARTITION_TABLE
from airflow_ml_provider.ml.registry.aliases import CHAMPION, PREVIOUS, holder

if TYPE_CHECKING:
    from mlflow import MlflowClient
    from mlflow.entities.model_registry import ModelVersion

log = logging.getLogger(__name__)

SLICE_TABLE = "gate/slices.csv"
IMPORTANCE_TABLE = "gate/permutation_importance.csv"
SHAP_TABLE = "gate/shap_importance.csv"
HELDOUT_TABLE = "gate/heldout_rows.csv"
DECISION_FILE = "gate/decision.json"


def current_champion(
    client: MlflowClient, model_name: str, challenger_run_id: str | None = None
) -> ModelVersion | None:
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


def judge(job: EvaluateModelJob, client: MlflowClient) -> GateDecision:
    """Score, decide and log; the decision (each rule: value, bound, pass/fail)."""
    from airflow_ml_provider.ml.data.dataset import data_section
    from airflow_ml_provider.ml.evaluation.evaluate import score_models
    from airflow_ml_provider.ml.partitions.answers import recorded_answers

    champion = current_champion(client, job.model_name, job.training.get("run_id"))
    champion_uri = f"models:/{job.model_name}/{champion.version}" if champion else None
    data = data_section(
        job.snapshot, job.target, job.features, job.split.model_dump(), job.partition_by
    )
    scores = score_models(
        data,
        job.task,
        job.metrics,
        job.training["model_uri"],
        champion_uri,
        confidence=job.confidence,
        bootstrap_samples=job.bootstrap_samples,
        slices=[item["column"] for item in job.slices],
        importance=job.importance,
        sample_weight=job.sample_weight,
        challenger_answers=recorded_answers(client, job.training, data),
        baseline=job.baseline_min_improvement is not None,
        positive_class_setting=job.positive_class,
        plots=job.plots,
    )
    decision, tables = _decide(job, scores)
    decision["champion_version"] = int(champion.version) if champion else None
    _log_decision(client, job, scores, decision, tables)
    return decision


def _decide(
    job: EvaluateModelJob, scores: dict[str, Any]
) -> tuple[GateDecision, dict[str, list[dict[str, Any]]]]:
    """The decision over every rule, and the slice and partition tables behind it."""
    from airflow_ml_provider.ml.evaluation.gate import (
        confidence_rule,
        decide,
        partition_comparison,
        regression_rules,
        required_gain,
        slice_rules,
    )

    extra = regression_rules(scores["challenger"], scores["champion"], job.max_regression)
    if "bootstrap" in scores:
        gain = required_gain(job.min_improvement, scores["champion"][job.primary_metric])
        extra.append(confidence_rule(scores["bootstrap"], job.primary_metric, gain))
    tables: dict[str, list[dict[str, Any]]] = {"slices": []}
    for item in job.slices:
        rules, rows = slice_rules(
            item["column"],
            scores["slices"][item["column"]],
            metric=job.primary_metric,
            max_gap=item["max_gap"],
            max_regression=item["max_regression"],
            min_rows=item["min_rows"],
        )
        extra.extend(rules)
        tables["slices"].extend(rows)
    if "partitions" in scores:
        partition_rule, tables["partitions"] = partition_comparison(
            scores["partitions"]["challenger"],
            scores["partitions"]["champion"],
            metric=job.primary_metric,
            **job.per_partition,
        )
        extra.extend([partition_rule] if partition_rule else [])
    decision = decide(
        scores["challenger"],
        scores["champion"],
        primary_metric=job.primary_metric,
        thresholds=job.thresholds,
        min_improvement=job.min_improvement,
        extra_rules=extra,
        first_run=job.first_run,
        baseline=scores.get("baseline"),
        baseline_min_improvement=job.baseline_min_improvement or 0.0,
    )
    return decision, tables


def _log_decision(
    client: MlflowClient,
    job: EvaluateModelJob,
    scores: dict[str, Any],
    decision: GateDecision,
    tables: dict[str, list[dict[str, Any]]],
) -> None:
    """The decision completed with the scores, and it and its tables on the challenger's run."""
    from airflow_ml_provider.ml.data.tables import records_csv
    from airflow_ml_provider.ml.evaluation.plots import plot_path

    run_id = job.training["run_id"]
    if "partitions" in tables:
        decision["partitions"] = _partition_report(tables["partitions"])
        client.log_text(run_id, records_csv(tables["partitions"]), PARTITION_TABLE)
    if "bootstrap" in scores:
        decision["bootstrap"] = scores["bootstrap"]
    if tables["slices"]:
        decision["slices"] = tables["slices"]
        client.log_text(run_id, records_csv(tables["slices"]), SLICE_TABLE)
    if "importance" in scores:
        decision["importance"] = scores["importance"][:10]
        client.log_text(run_id, records_csv(scores["importance"]), IMPORTANCE_TABLE)
    if "shap" in scores:
        decision["shap"] = scores["shap"][:10]
        client.log_text(run_id, records_csv(scores["shap"]), SHAP_TABLE)
    client.log_text(run_id, scores["heldout_rows"], HELDOUT_TABLE)
    if scores.get("figures"):
        for name, figure in scores["figures"].items():
            client.log_figure(run_id, figure, plot_path(name))
        decision["plots"] = list(scores["figures"])
        decision["mlflow_run_id"] = run_id
    decision["heldout_rows"] = HELDOUT_TABLE
    decision["challenger"] = scores["challenger"]
    decision["champion"] = scores["champion"]
    if "baseline" in scores:
        decision["baseline"] = {"model": scores["baseline_model"], **scores["baseline"]}
    decision["primary_metric"] = job.primary_metric
    decision["rows"] = scores["rows"]
    if scores.get("positive_class") is not None:
        decision["positive_class"] = scores["positive_class"]
    for rule in decision["rules"]:
        log.info(
            "%-15s %-12s value=%.4f bound=%.4f %s",
            rule["rule"],
            rule["metric"],
            rule["value"],
            rule["bound"],
            "PASS" if rule["passed"] else "FAIL",
        )
    verdict = "PROMOTE" if decision["promote"] else "KEEP CHAMPION"
    log.info("decision: %s (%s)", verdict, decision["reason"])
    client.log_dict(run_id, decision, DECISION_FILE)
    client.set_tag(run_id, "airflow_ml.gate", "promote" if decision["promote"] else "reject")


def _partition_report(table: list[dict[str, Any]]) -> dict[str, Any]:
    """Counts of the per-partition comparison for the decision; the worst partitions logged."""
    judged = [row for row in table if row["judged"]]
    worst = sorted(judged, key=lambda row: row["delta"])[:10]
    for row in worst:
        log.info(
            "partition %-20s rows=%-5d challenger=%.4f champion=%.4f %s",
            row["partition"],
            row["rows"],
            row["challenger"],
            row["champion"],
            "REGRESSED" if row["regressed"] else "",
        )
    return {
        "partitions": len(table),
        "judged": len(judged),
        "regressed": sum(row["regressed"] for row in judged),
        "worst": worst[:5],
        "table": PARTITION_TABLE,
    }
