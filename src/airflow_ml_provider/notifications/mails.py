"""The alert e-mails, rendered from plain facts (no Airflow imports): failure, retry,
promotion, and the run-summary based warnings. Each mail has an HTML body and the same
content as plain text."""

from __future__ import annotations

from dataclasses import dataclass
from html import escape
from typing import Any

from airflow_ml_provider.core.errors import first_line
from airflow_ml_provider.notifications.summary import render_text


@dataclass(frozen=True)
class Mail:
    """One e-mail: subject, HTML body and the plain-text version of the same content."""

    subject: str
    html: str
    text: str


@dataclass(frozen=True)
class TaskTrouble:
    """What a failure or retry mail says about the task instance."""

    pipeline: str
    task_id: str
    run_id: str
    try_number: int
    tries: int
    error: str
    trace_tail: list[str]
    log_url: str


def _html_page(title: str, body: str) -> str:
    return (
        f'<html><body style="font-family:sans-serif"><h3>{escape(title)}</h3>{body}</body></html>'
    )


def _table(header: list[str], rows: list[list[str]]) -> str:
    head = "".join(f'<th style="text-align:left;padding:2px 8px">{escape(h)}</th>' for h in header)
    body = "".join(
        "<tr>" + "".join(f'<td style="padding:2px 8px">{escape(c)}</td>' for c in row) + "</tr>"
        for row in rows
    )
    return f'<table border="1" cellspacing="0"><tr>{head}</tr>{body}</table>'


def _facts(facts: list[tuple[str, str]], link_label: str) -> tuple[str, str]:
    """``facts`` (the last one a URL) as ``Name: value`` lines, and as an HTML table followed
    by the URL as a link named ``link_label``."""
    text = "\n".join(f"{name}: {value}" for name, value in facts)
    *shown, (_, url) = facts
    html = (
        _table(["", ""], [[name, value] for name, value in shown])
        + f'<p><a href="{escape(url)}">{escape(link_label)}</a></p>'
    )
    return text, html


def failure_mail(trouble: TaskTrouble) -> Mail:
    """A task failed for good: which one, which try, why, and where its log is."""
    error = first_line(trouble.error)
    subject = f"[airflow-ml] FAILED {trouble.pipeline}.{trouble.task_id}: {error}"[:200]
    facts = [
        ("Pipeline", trouble.pipeline),
        ("Task", trouble.task_id),
        ("Run", trouble.run_id),
        ("Try", f"{trouble.try_number} of {trouble.tries} (no retries left)"),
        ("Error", error),
        ("Log", trouble.log_url),
    ]
    text, table = _facts(facts, "Open the task log in Airflow")
    trace = "\n".join(trouble.trace_tail)
    html = _html_page(
        f"{trouble.pipeline}: {trouble.task_id} failed",
        f"{table}<p>Last lines of the error:</p><pre>{escape(trace)}</pre>",
    )
    return Mail(subject, html, f"{text}\n\nLast lines of the error:\n{trace}")


def retry_mail(trouble: TaskTrouble, next_try: str) -> Mail:
    """Short: clearly a retry, why, and when the next try is."""
    error = first_line(trouble.error)
    subject = (
        f"[airflow-ml] retry {trouble.try_number}/{trouble.tries} "
        f"{trouble.pipeline}.{trouble.task_id}: {error}"
    )[:200]
    text = (
        f"{trouble.pipeline}.{trouble.task_id} failed on try {trouble.try_number} of "
        f"{trouble.tries} and will be retried {next_try}.\nError: {error}\n"
        f"Log: {trouble.log_url}"
    )
    html = _html_page(
        f"Retrying {trouble.pipeline}.{trouble.task_id}",
        f"<p>Try {trouble.try_number} of {trouble.tries} failed; the next try is "
        f"{escape(next_try)}.</p><p>Error: {escape(error)}</p>"
        f'<p><a href="{escape(trouble.log_url)}">Task log</a></p>',
    )
    return Mail(subject, html, text)


def _metric_rows(summary: dict[str, Any]) -> list[list[str]]:
    new = summary["metrics"]["challenger"] or {}
    old = summary["metrics"]["champion"] or {}
    rows = []
    for metric, value in new.items():
        before = old.get(metric)
        change = f"{value - before:+.4f}" if before is not None else ""
        rows.append(
            [metric, f"{value:.4f}", f"{before:.4f}" if before is not None else "-", change]
        )
    return rows


def _rule_rows(summary: dict[str, Any]) -> list[list[str]]:
    return [
        [
            rule["rule"],
            rule["metric"],
            f"{rule['value']:.4f}",
            f"{rule['bound']:.4f}",
            "pass" if rule["passed"] else "FAIL",
        ]
        for rule in summary.get("rules", [])
    ]


def _validation_line(summary: dict[str, Any]) -> str:
    validation = summary["validation"]
    line = "passed" if validation.get("success") else "FAILED"
    warnings = validation.get("warnings") or []
    if warnings:
        line += f", {len(warnings)} warning(s)"
    if validation.get("drift"):
        line += f"; drift: {validation['drift']}"
    return line


def promotion_mail(summary: dict[str, Any], links: dict[str, str]) -> Mail:
    """A new champion: old vs new metrics, the gate's rules, data hash, validation, links."""
    model = summary.get("model") or {}
    name, version = model.get("name"), model.get("version")
    previous = model.get("previous_champion")
    subject = f"[airflow-ml] {summary['pipeline']}: version {version} of {name} is the new champion"
    header = ["metric", f"new (v{version})", f"old (v{previous})" if previous else "old", "change"]
    link_html = "".join(
        f'<li><a href="{escape(url)}">{escape(label)}</a></li>' for label, url in links.items()
    )
    html = _html_page(
        f"{name}: version {version} promoted to champion",
        f"<p>{escape(str(summary.get('reason')))}</p>"
        + _table(header, _metric_rows(summary))
        + "<h4>Gate rules</h4>"
        + _table(["rule", "metric", "value", "bound", ""], _rule_rows(summary))
        + f"<p>Data sha256: <code>{escape(str(summary.get('data_sha256')))}</code><br>"
        f"Validation: {escape(_validation_line(summary))}<br>"
        f"Run: {escape(summary['run_id'])}</p>" + (f"<ul>{link_html}</ul>" if link_html else ""),
    )
    text = render_text(summary) + "".join(f"\n{label}: {url}" for label, url in links.items())
    return Mail(subject, html, text)


SUMMARY_SUBJECTS = {
    "validation_warning": "validation warnings",
    "drift": "drift detected",
    "summary": "run summary",
}


def summary_mail(event: str, summary: dict[str, Any]) -> Mail:
    """A validation-warning, drift or plain run-summary mail: the run summary as text."""
    verdict = (
        "nothing new, training skipped"
        if summary.get("unchanged")
        else "promoted"
        if summary["promoted"]
        else "kept champion"
    )
    subject = f"[airflow-ml] {summary['pipeline']}: {SUMMARY_SUBJECTS[event]} ({verdict})"
    text = render_text(summary)
    return Mail(subject, _html_page(subject, f"<pre>{escape(text)}</pre>"), text)


def stalled_mail(pipeline: str, after, run: dict[str, Any], base_url: str) -> Mail:
    """A run that has not finished ``after`` its logical date: which run, since when, where."""
    run_id = run.get("dag_run_id") or run.get("run_id") or "?"
    link = f"{base_url}/dags/{pipeline}/runs/{run_id}"
    subject = f"[airflow-ml] STALLED {pipeline}: run {run_id} not finished after {after}"
    facts = [
        ("Pipeline", pipeline),
        ("Run", run_id),
        ("Logical date", str(run.get("logical_date"))),
        ("State", str(run.get("state"))),
        ("Deadline", f"{after} after the logical date"),
        ("Run in Airflow", link),
    ]
    text, table = _facts(facts, "Open the run in Airflow")
    return Mail(subject, _html_page(f"{pipeline}: run {run_id} is late", table), text)
