"""notify: log the run summary and mail the subscribed events (promotion, warnings, drift)."""

from __future__ import annotations

from typing import Any

from airflow.sdk import BaseOperator

from airflow_ml_provider.core.connections import SMTP_CONN_ID
from airflow_ml_provider.notifications.mails import Mail, promotion_mail, summary_mail
from airflow_ml_provider.notifications.notifier import send_mail
from airflow_ml_provider.notifications.summary import render_text, summarize
from airflow_ml_provider.operators.training import why_it_ran


class RunSummaryOperator(BaseOperator):
    """Collect the results of the pipeline's tasks, log them, and mail ``email`` about the
    events in ``alerts_on``.

    ``task_ids`` maps the summary's parts (snapshot, validation, training, decision,
    registration, deployment) to task ids whose return values hold them; a skipped
    task simply contributes nothing. Mails (through the SMTP provider's notifier, only if
    ``smtp_conn_id`` exists): ``promotion`` — a new champion, with old vs new metrics, the
    gate's rules, data hash, validation and links; ``validation_warning`` — validation
    passed with warnings; ``drift`` — drift was found; ``summary`` — every run. Returns the
    summary with ``mailed``, the events mailed.

    :param pipeline: the pipeline id (in the mails' subjects).
    :param task_ids: summary part -> the task id whose result holds it (``core.steps``'
        summary roles).
    :param email: who gets the mails.
    :param smtp_conn_id: the SMTP connection.
    :param alerts_on: the events mailed (default ``["promotion"]``).
    """

    def __init__(
        self,
        *,
        pipeline: str,
        task_ids: dict[str, str],
        email: list[str] | None = None,
        smtp_conn_id: str = SMTP_CONN_ID,
        alerts_on: list[str] | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.pipeline = pipeline
        self.task_ids = task_ids
        self.email = email or []
        self.smtp_conn_id = smtp_conn_id
        self.alerts_on = list(alerts_on if alerts_on is not None else ["promotion"])

    def execute(self, context) -> dict[str, Any]:
        ti = context["ti"]
        parts = {name: ti.xcom_pull(task_ids=task_id) for name, task_id in self.task_ids.items()}
        if parts.get("validation") is None and "validation" in self.task_ids:
            parts["validation"] = ti.xcom_pull(
                task_ids=self.task_ids["validation"], key="validation"
            )
        summary = summarize(
            self.pipeline,
            context["run_id"],
            **{
                key: parts.get(key)
                for key in (
                    "snapshot",
                    "validation",
                    "training",
                    "decision",
                    "registration",
                    "deployment",
                    "scoring",
                    "changes",
                )
            },
        )
        summary["trigger"] = why_it_ran(context)
        self.log.info("run summary\n%s", render_text(summary))
        mailed = []
        for event, mail in self._mails(summary, ti).items():
            if self.email and send_mail(mail, self.email, self.smtp_conn_id, context):
                mailed.append(event)
        return {**summary, "mailed": mailed}

    def _mails(self, summary: dict[str, Any], ti) -> dict[str, Mail]:
        """The mails of the subscribed events that happened in this run."""
        happened = {
            "promotion": summary["promoted"],
            "validation_warning": bool(summary["validation"]["warnings"]),
            "drift": summary["validation"]["drift_detected"],
            "summary": True,
        }
        mails: dict[str, Mail] = {}
        for event in self.alerts_on:
            if not happened.get(event):
                continue
            if event == "promotion":
                mails[event] = promotion_mail(summary, self._links(ti))
            else:
                mails[event] = summary_mail(event, summary)
        return mails

    def _links(self, ti) -> dict[str, str]:
        links = {
            "MLflow run": ti.xcom_pull(
                task_ids=self.task_ids.get("training"), key="mlflow_run_url"
            ),
            "Model version": ti.xcom_pull(
                task_ids=self.task_ids.get("registration"), key="model_version_url"
            ),
        }
        return {label: url for label, url in links.items() if url}
