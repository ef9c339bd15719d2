"""The monitor DAG's tasks: check recent data for drift against the champion's training
data, and ask for retraining (an Asset event the training DAG is scheduled on) when it
drifted."""

from __future__ import annotations

import logging
from typing import Any

from airflow.sdk import BaseOperator
from airflow.sdk.exceptions import AirflowSkipException

from airflow_ml_provider.core.connections import MLFLOW_CONN_ID
from airflow_ml_provider.core.contracts import Snapshot
from airflow_ml_provider.storage.drift_baseline import check_drift, skipped

log = logging.getLogger(__name__)

RETRAIN_SCHEME = "x-mlretrain"


def retrain_asset_uri(pipeline: str) -> str:
    """The Asset a monitor updates to retrain ``pipeline`` (an ``x-`` scheme: no provider
    handler is loaded while parsing)."""
    return f"{RETRAIN_SCHEME}://{pipeline}"


class DriftMonitorOperator(BaseOperator):
    """Compare a snapshot of recent data with the data that trained ``model_name``'s
    champion, feature by feature (``ml.drift.detection.drift_report`` with ``drift`` options).

    Returns ``{"retrain": drifted, "reason": "drift: <summary>", "baseline_uri", "rows",
    "report"}``; with no champion yet ``retrain`` False and ``skipped``. Only the columns
    both have (and ``columns`` when given) are compared, so data without the target works.

    :param snapshot: the recent data's Snapshot (templated, usually an XComArg).
    :param model_name: the registered model whose champion's training data is the baseline.
    :param drift: drift options (``ml.drift.detection.drift_report`` keywords: method,
        threshold, ...).
    :param columns: compare only these columns.
    :param mlflow_conn_id: the MLflow connection (the embedded store when it does not exist).
    """

    template_fields = ("snapshot",)
    ui_color = "#fff3d6"

    def __init__(
        self,
        *,
        snapshot: Snapshot | Any,
        model_name: str,
        drift: dict[str, Any] | None = None,
        columns: list[str] | None = None,
        mlflow_conn_id: str = MLFLOW_CONN_ID,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.snapshot = snapshot
        self.model_name = model_name
        self.drift = dict(drift or {})
        self.columns = list(columns) if columns else None
        self.mlflow_conn_id = mlflow_conn_id

    def execute(self, context) -> dict[str, Any]:
        from airflow_ml_provider.storage.frames import read_stored_frame

        frame = read_stored_frame(self.snapshot["uri"], self.snapshot["format"])
        return check_drift(frame, self.model_name, self.mlflow_conn_id, self.drift, self.columns)


class LiveMetricsOperator(BaseOperator):
    """The champion's metrics on recent rows whose labels have arrived, against the same
    metrics at its evaluation (its MLflow run's held-out metrics).

    Joins the ``recent`` snapshot with the ``labels`` snapshot on ``join_on``, scores the
    champion on the joined rows and returns ``{"retrain": drop > max_drop, "reason", "rows",
    "live", "at_evaluation", "drop"}`` for the primary (first) metric; ``retrain`` False
    with ``skipped`` when there is no champion or fewer than ``min_rows`` labelled rows.

    :param recent: the recent data's Snapshot (templated).
    :param labels: the labels' Snapshot (templated).
    :param join_on: the columns joining the two.
    :param target: the label column.
    :param model_name: the registered model whose champion is scored.
    :param metrics: metrics to score; the first is the one compared.
    :param max_drop: how much worse than at evaluation the metric may get.
    :param min_rows: fewer labelled rows are not judged.
    :param mlflow_conn_id: the MLflow connection (the embedded store when it does not exist).
    """

    template_fields = ("recent", "labels")
    ui_color = "#fff3d6"

    def __init__(
        self,
        *,
        recent: dict[str, Any] | Any,
        labels: dict[str, Any] | Any,
        join_on: list[str],
        target: str,
        model_name: str,
        metrics: list[str],
        max_drop: float = 0.05,
        min_rows: int = 50,
        mlflow_conn_id: str = MLFLOW_CONN_ID,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.recent = recent
        self.labels = labels
        self.join_on = list(join_on)
        self.target = target
        self.model_name = model_name
        self.metrics = list(metrics)
        self.max_drop = max_drop
        self.min_rows = min_rows
        self.mlflow_conn_id = mlflow_conn_id

    def execute(self, context) -> dict[str, Any]:
        from airflow_ml_provider.hooks.mlflow import MlflowHook
        from airflow_ml_provider.ml.evaluation.evaluate import load_model
        from airflow_ml_provider.ml.evaluation.gate import better_by
        from airflow_ml_provider.ml.evaluation.scoring import (
            own_features,
            recorded_positive_class,
            score,
        )
        from airflow_ml_provider.ml.judge import current_champion
        from airflow_ml_provider.storage.frames import read_stored_frame

        client = MlflowHook(self.mlflow_conn_id).get_conn()
        champion = current_champion(client, self.model_name)
        if champion is None:
            return skipped(f"{self.model_name} has no champion yet")
        number = champion.version
        recent = read_stored_frame(self.recent["uri"], self.recent["format"])
        labels = read_stored_frame(self.labels["uri"], self.labels["format"])
        joined = recent.drop(columns=[self.target], errors="ignore").merge(
            labels[[*self.join_on, self.target]], on=self.join_on, how="inner"
        )
        if len(joined) < self.min_rows:
            return skipped(f"{len(joined)} labelled recent rows, fewer than {self.min_rows}")
        model = load_model(f"models:/{self.model_name}/{number}")
        x = own_features(model, joined.drop(columns=[self.target]))
        recorded = client.get_run(champion.run_id)
        positive = recorded_positive_class(recorded.data.tags)
        live = score(model, x, joined[self.target], self.metrics, positive=positive)
        at_evaluation = {m: recorded.data.metrics.get(m) for m in self.metrics}
        primary = self.metrics[0]
        before, now = at_evaluation[primary], live[primary]
        if before is None:
            return skipped(f"champion version {number} has no recorded {primary}")
        drop = better_by(primary, before, now)
        reason = (
            f"live {primary} of version {number}: {now:.4f} on {len(joined)} labelled rows vs "
            f"{before:.4f} at evaluation (drop {drop:.4f}, allowed {self.max_drop})"
        )
        self.log.info(reason)
        return {
            "retrain": drop > self.max_drop,
            "reason": reason,
            "rows": len(joined),
            "live": live,
            "at_evaluation": at_evaluation,
            "drop": drop,
        }


class RequestRetrainingOperator(BaseOperator):
    """Succeeds — so its outlet, the pipeline's retrain Asset, gets an event (the reasons in
    its extra) and the training DAG is triggered — only when one of ``checks`` (results of
    DriftMonitorOperator / LiveMetricsOperator) asks for retraining; skips otherwise.

    :param checks: the checks' results (templated, usually XComArgs).
    """

    template_fields = ("checks",)
    ui_color = "#ffe0cc"

    def __init__(self, *, checks: list[dict[str, Any]] | Any, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.checks = checks

    def execute(self, context) -> dict[str, Any]:
        reasons = [check["reason"] for check in self.checks if check.get("retrain")]
        if not reasons:
            found = "; ".join(check.get("reason", "") for check in self.checks)
            raise AirflowSkipException(f"no retraining needed: {found}")
        reason = "; ".join(reasons)
        for outlet in self.outlets:
            context["outlet_events"][outlet].extra = {"reason": reason}
        self.log.info("retraining requested (%s)", reason)
        return {"requested": True, "reason": reason}
