"""validate_data: Great Expectations 1.x on the snapshot, with a readable failure summary."""

from __future__ import annotations

import json
from typing import Any

from airflow.sdk import BaseOperator, ObjectStoragePath
from airflow.sdk.exceptions import AirflowFailException


class ValidateDataOperator(BaseOperator):
    """Run ``expectations`` (``[{expectation_name: {kwargs}}]``) on a dataset snapshot.

    ``snapshot`` is the dict returned by SnapshotDataOperator (or any ``{uri, format}``).
    The full result is written next to the snapshot as ``validation/<run_id>.json`` and
    returned (also on failure, as XCom ``validation``). A failed expectation fails the task
    with one line per failed expectation: name, column, observed value, a few examples.
    """

    template_fields = ("snapshot",)
    ui_color = "#fdf2e0"

    def __init__(
        self,
        *,
        snapshot: dict[str, Any] | Any,
        expectations: list[dict[str, dict[str, Any]]],
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.snapshot = snapshot
        self.expectations = expectations

    def execute(self, context) -> dict[str, Any]:
        from airflow_ml_provider.ml.data import read_frame
        from airflow_ml_provider.ml.expectations import describe_failure, validate_frame

        frame = read_frame(self.snapshot["uri"], self.snapshot["format"])
        if len(frame) == 0:
            raise AirflowFailException(f"snapshot {self.snapshot['uri']} has no rows")
        summary = validate_frame(frame, self.expectations)
        folder = ObjectStoragePath(self.snapshot["uri"]).parent / "validation"
        report = folder / f"{_safe(context['run_id'])}.json"
        report.parent.mkdir(parents=True, exist_ok=True)
        report.write_text(json.dumps(summary, indent=2))
        summary["report_uri"] = str(report)
        context["ti"].xcom_push(key="validation", value=summary)
        if not summary["success"]:
            lines = [describe_failure(entry) for entry in summary["failed_expectations"]]
            for line in lines:
                self.log.error("%s", line)
            raise AirflowFailException(
                f"data validation failed: {len(lines)} of {summary['evaluated']} expectations "
                f"failed on {summary['rows']} rows\n  - " + "\n  - ".join(lines)
            )
        self.log.info(
            "all %d expectations passed on %d rows", summary["evaluated"], summary["rows"]
        )
        return summary


def _safe(run_id: str) -> str:
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in run_id)
