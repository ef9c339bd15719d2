"""A short run summary built from the pipeline tasks' XCom results."""

from __future__ import annotations

from typing import Any


def summarize(
    pipeline: str,
    run_id: str,
    snapshot: dict | None,
    validation: dict | None,
    training: dict | None,
    decision: dict | None,
    registration: dict | None,
    deployment: dict | None,
    scoring: dict | None = None,
    changes: dict | None = None,
) -> dict[str, Any]:
    """Collect what a person wants to know about one run into one JSON-able dict.

    ``unchanged``: check_changes found the champion's data and configuration and skipped
    the training; ``reason`` then says so."""
    unchanged = bool((changes or {}).get("unchanged"))
    return {
        "pipeline": pipeline,
        "run_id": run_id,
        "data_sha256": (snapshot or {}).get("sha256"),
        "validation": {
            "success": (validation or {}).get("success"),
            "failed_expectations": len((validation or {}).get("failed_expectations") or []),
            "warnings": list((validation or {}).get("warnings") or []),
            "drift": _drift_line((validation or {}).get("drift")),
            "drift_detected": bool(((validation or {}).get("drift") or {}).get("drift")),
            "retrain_reason": (validation or {}).get("retrain_reason"),
            "data_docs": _data_docs((validation or {}).get("data_docs_uri")),
        },
        "metrics": {
            "challenger": (decision or {}).get("challenger") or (training or {}).get("metrics"),
            "champion": (decision or {}).get("champion"),
        },
        "partitions": _partitions_line(training, decision),
        "training_warnings": list((training or {}).get("warnings") or []),
        "candidates": _leaderboard_lines(training),
        # register_model has the last word (a reviewer may have rejected the promotion).
        "promoted": bool(
            (registration or decision or {}).get("promoted", (decision or {}).get("promote"))
        ),
        "unchanged": unchanged,
        "reason": (changes or {}).get("reason")
        if unchanged
        else (registration or {}).get("reason") or (decision or {}).get("reason"),
        "rules": (decision or {}).get("rules", []),
        "model": registration,
        "deployment": deployment,
        "scoring": scoring,
    }


def _data_docs(uri: str | None) -> str | None:
    from airflow_ml_provider.settings import data_docs_url

    return data_docs_url(uri) if uri else None


def _partitions_line(training: dict | None, decision: dict | None) -> str | None:
    """'50 trained, 2 skipped, 0 failed; 3 of 48 judged partitions regressed' or None."""
    counts = (training or {}).get("partitions")
    if not counts:
        return None
    line = f"{counts['trained']} trained, {counts['skipped']} skipped, {counts['failed']} failed"
    judged = (decision or {}).get("partitions")
    if judged and judged.get("judged"):
        line += f"; {judged['regressed']} of {judged['judged']} judged partitions regressed"
    return line


def _leaderboard_lines(training: dict | None) -> list[str]:
    """training.candidates' leaderboard, one line per candidate, best first."""
    board = (training or {}).get("candidates") or []
    if not board:
        return []
    winner = (training or {}).get("winner")
    lines = []
    for row in board:
        scores = ", ".join(
            f"{metric} {s['mean']:.4f} ± {s['std']:.4f}" for metric, s in row["cv"].items()
        )
        said = scores if row["status"] == "succeeded" else f"failed: {row.get('error', '')}"
        mark = "  <- refitted as the challenger" if row["name"] == winner else ""
        lines.append(f"{row.get('rank', '-')}. {row['name']} ({row['estimator']}): {said}{mark}")
    return lines


def _drift_line(drift: dict | None) -> str | None:
    if not drift:
        return None
    from airflow_ml_provider.ml.drift.detection import drift_summary_line

    return f"{drift_summary_line(drift)} (action {drift.get('action', 'retrain')})"


def verdict_of(summary: dict[str, Any]) -> str:
    """PROMOTED, not promoted, or NOTHING NEW (check_changes skipped the training)."""
    if summary.get("unchanged"):
        return "NOTHING NEW"
    return "PROMOTED" if summary["promoted"] else "not promoted"


def render_text(summary: dict[str, Any]) -> str:
    """Plain-text version of the summary for logs and e-mail."""
    model = summary.get("model") or {}
    lines = [
        f"Pipeline {summary['pipeline']} — run {summary['run_id']}"
        + (f" ({summary['trigger']})" if summary.get("trigger") else ""),
        f"Data sha256: {summary.get('data_sha256')}",
        f"Validation: {'passed' if summary['validation']['success'] else 'FAILED'}",
    ]
    validation = summary["validation"]
    lines += [f"  WARNING: {line}" for line in validation.get("warnings") or []]
    if validation.get("drift"):
        lines.append(f"  Drift: {validation['drift']}")
    if validation.get("retrain_reason"):
        lines.append(f"  Trained because: {validation['retrain_reason']}")
    if validation.get("data_docs"):
        lines.append(f"  Data Docs: {validation['data_docs']}")
    lines += [f"Training warning: {line}" for line in summary.get("training_warnings") or []]
    if summary.get("partitions"):
        lines.append(f"Partitions: {summary['partitions']}")
    if summary.get("candidates"):
        lines.append("Candidates (cross-validated on the train split):")
        lines += [f"  {line}" for line in summary["candidates"]]
    challenger = summary["metrics"]["challenger"] or {}
    champion = summary["metrics"]["champion"] or {}
    for metric, value in challenger.items():
        old = champion.get(metric)
        lines.append(
            f"  {metric:<12} challenger {value:.4f}"
            + (f"   champion {old:.4f}" if old is not None else "   (no champion)")
        )
    for rule in summary.get("rules", []):
        status = "pass" if rule["passed"] else "FAIL"
        lines.append(
            f"  rule {rule['rule']} on {rule['metric']}: "
            f"{rule['value']:.4f} vs {rule['bound']:.4f} {status}"
        )
    lines.append(f"Decision: {verdict_of(summary)} ({summary.get('reason')})")
    if model:
        lines.append(
            f"Model {model.get('name')} version {model.get('version')} "
            f"aliases {model.get('aliases')}"
        )
    scoring = summary.get("scoring")
    if scoring:
        lines.append(
            f"Batch scoring: {scoring['rows']} rows with version {scoring['model_version']} "
            f"-> {scoring['uri']}"
        )
    return "\n".join(lines)
