"""The monitor DAG's tasks: check recent data for drift against the champion's training
data, and ask for retraining (an Asset event the training DAG is scheduled on) when it
drifted."""

from __future__ import annotations

from typing import Any

from airflow.sdk import BaseOperator
from airflow.sdk.exceptions import AirflowSkipException

from airflow_ml_provider.operators.drift_baseline import drift_baseline

RETRAIN_SCHEME = "x-mlretrain"


def retrain_asset_uri(pipeline: str) -> str:
    """The Asset a monitor updates to retrain ``pipeline`` (an ``x-`` scheme: no provider
    handler is loaded while parsing)."""
    return f"{RETRAIN_SCHEME}://{pipeline}"


class DriftMonitorOperator(BaseOperator):
    """Compare a snapshot of recent data with the data that trained ``model_name``'s
    champion, feature by feature (``ml.drift.drift_report`` with ``drift`` options).

    Returns ``{"drift": bool, "summary": line, "baseline_uri", "rows", "report"}``; with no
    champion yet ``{"drift": False, "skipped": why}``. Only the columns both have (and
    ``columns`` when given) are compared, so scoring data without the target works.
    """

    template_fields = ("snapshot",)
    ui_color = "#fff3d6"

    def __init__(
        self,
        *,
        snapshot: dict[str, Any] | Any,
        model_name: str,
        drift: dict[str, Any] | None = None,
        columns: list[str] | None = None,
        mlflow_conn_id: str = "mlflow_default",
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.snapshot = snapshot
        self.model_name = model_name
        self.drift = dict(drift or {})
        self.columns = list(columns) if columns else None
        self.mlflow_conn_id = mlflow_conn_id

    def execute(self, context) -> dict[str, Any]:
        from airflow_ml_provider.ml.drift import (
            drift_report,
            drift_summary_line,
            format_drift_table,
        )
        from airflow_ml_provider.operators.storage import read_stored_frame

        baseline_uri, baseline = drift_baseline(self.model_name, self.mlflow_conn_id)
        if baseline is None:
            why = f"{self.model_name} has no champion training data to compare with yet"
            self.log.info(why)
            return {"drift": False, "skipped": why}
        frame = read_stored_frame(self.snapshot["uri"], self.snapshot["format"])
        known = baseline["columns"] if isinstance(baseline, dict) else list(baseline.columns)
        columns = [c for c in (self.columns or list(frame.columns)) if c in known]
        options = {
            "method": self.drift.get("method", "psi"),
            "threshold": self.drift.get("threshold"),
            "column_thresholds": self.drift.get("columns") or None,
            "max_drifted_share": self.drift.get("max_drifted_share", 0.0),
        }
        report = drift_report(baseline, frame[columns], columns=columns, **options)
        summary = drift_summary_line(report)
        self.log.info("drift against %s\n%s", baseline_uri, format_drift_table(report))
        return {
            "drift": bool(report["drift"]),
            "summary": summary,
            "baseline_uri": baseline_uri,
            "rows": len(frame),
            "report": report,
        }


class RequestRetrainingOperator(BaseOperator):
    """Succeeds — so its outlet, the pipeline's retrain Asset, gets an event and the
    training DAG is triggered — only when ``check`` found drift; skips otherwise."""

    template_fields = ("check",)
    ui_color = "#ffe0cc"

    def __init__(self, *, check: dict[str, Any] | Any, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.check = check

    def execute(self, context) -> dict[str, Any]:
        if not self.check.get("drift"):
            raise AirflowSkipException(
                self.check.get("skipped") or f"no retraining needed: {self.check.get('summary')}"
            )
        reason = f"drift: {self.check['summary']}"
        for outlet in self.outlets:
            context["outlet_events"][outlet].extra = {"reason": reason}
        self.log.info("retraining requested (%s)", reason)
        return {"requested": True, "reason": reason}
