"""The alert e-mails: failure, retry, promotion, stalled, and the run-summary based ones.

Each mail has an HTML body and the same content as plain text, rendered by Jinja from
``templates/<mail>.html`` and ``<mail>.txt``; a platform team overrides any of them by putting
a file of the same name in the folder ``[ml_provider] mail_templates`` names (``_layout.html``
restyles every HTML mail). Subjects stay here: tests, filters and runbooks match on them."""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any

import jinja2
from jinja2.sandbox import SandboxedEnvironment

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


TEMPLATES_PACKAGE = "airflow_ml_provider.notifications"
"""The default templates: ``templates/<mail>.html`` and ``<mail>.txt`` in this package."""


@functools.cache
def _environment(override: str) -> jinja2.Environment:
    """Templates from ``override`` first (a platform team's folder), then the defaults. A
    sandbox: the facts come from pipeline files, and an override is a template, not code."""
    loaders: list[jinja2.BaseLoader] = [jinja2.PackageLoader(TEMPLATES_PACKAGE, "templates")]
    if override:
        loaders.insert(0, jinja2.FileSystemLoader(override))
    return SandboxedEnvironment(
        loader=jinja2.ChoiceLoader(loaders),
        autoescape=jinja2.select_autoescape(["html"]),
        undefined=jinja2.StrictUndefined,
    )


def render(mail: str, **facts: Any) -> tuple[str, str]:
    """The HTML and plain-text bodies of ``mail`` (``<mail>.html``, ``<mail>.txt``), from the
    folder ``[ml_provider] mail_templates`` names when it has them, else the defaults."""
    from airflow_ml_provider import settings

    environment = _environment(settings.mail_templates())
    html = environment.get_template(f"{mail}.html").render(**facts)
    text = environment.get_template(f"{mail}.txt").render(**facts)
    return html, text.strip("\n")


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
    return Mail(subject, *render("failure", t=trouble, facts=facts))


def retry_mail(trouble: TaskTrouble, next_try: str) -> Mail:
    """Short: clearly a retry, why, and when the next try is."""
    error = first_line(trouble.error)
    subject = (
        f"[airflow-ml] retry {trouble.try_number}/{trouble.tries} "
        f"{trouble.pipeline}.{trouble.task_id}: {error}"
    )[:200]
    return Mail(subject, *render("retry", t=trouble, error=error, next_try=next_try))


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
    bodies = render(
        "promotion",
        summary=summary,
        model={"name": name, "version": version},
        metric_header=header,
        metric_rows=_metric_rows(summary),
        rule_rows=_rule_rows(summary),
        validation_line=_validation_line(summary),
        summary_text=render_text(summary),
        links=links,
    )
    return Mail(subject, *bodies)


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
    return Mail(subject, *render("summary", subject=subject, summary_text=render_text(summary)))


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
    bodies = render("stalled", pipeline=pipeline, run_id=run_id, facts=facts, link=link)
    return Mail(subject, *bodies)
