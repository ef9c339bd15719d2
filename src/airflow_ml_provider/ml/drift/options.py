"""The YAML's drift section (``validation.drift``, ``monitoring.drift``) as the keywords of
``ml.drift.detection.drift_report``: one translation for validate_data and the monitor.
No imports beyond the standard library: the DAG factory calls it while a file is parsed."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


def report_options(drift: Mapping[str, Any]) -> dict[str, Any]:
    """``drift_report``'s keywords from a drift section: its per-column ``columns`` are
    ``column_thresholds``; what the section leaves out gets drift_report's defaults."""
    return {
        "method": drift.get("method", "psi"),
        "threshold": drift.get("threshold"),
        "column_thresholds": drift.get("columns") or None,
        "max_drifted_share": drift.get("max_drifted_share", 0.0),
    }
