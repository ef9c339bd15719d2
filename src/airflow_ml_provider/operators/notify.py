"""notify: log the run summary and e-mail it through the SMTP provider when configured."""

from __future__ import annotations

from typing import Any

from airflow.sdk import BaseHook, BaseOperator
from airflow.sdk.exceptions import AirflowNotFoundException

from airflow_ml_provider.notifications.summary import render_text, summarize


class RunSummaryOperator(BaseOperator):
    """Collect the results of the pipeline's tasks, log them, and mail them to ``email``.

    ``task_ids`` maps the summary's parts (snapshot, validation, training, decision,
    registration, deployment) to task ids whose return values hold them; a skipped
    task simply contributes nothing. Mail goes through ``smtp_conn_id`` only if that
    connection exists (the embedded default has none, so it only logs).
    """

    def __init__(
        self,
        *,
        pipeline: str,
        task_ids: dict[str, str],
        email: list[str] | None = None,
        smtp_conn_id: str = "smtp_default",
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.pipeline = pipeline
        self.task_ids = task_ids
        self.email = email or []
        self.smtp_conn_id = smtp_conn_id

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
                )
            },
        )
        text = render_text(summary)
        self.log.info("run summary\n%s", text)
        if self.email:
            self._send(summary, text)
        return summary

    def _send(self, summary: dict[str, Any], text: str) -> None:
        try:
            BaseHook.get_connection(self.smtp_conn_id)
        except AirflowNotFoundException:
            self.log.info("no %s connection; summary not e-mailed", self.smtp_conn_id)
            return
        from airflow.providers.smtp.hooks.smtp import SmtpHook

        verdict = "promoted" if summary["promoted"] else "kept champion"
        subject = f"[airflow-ml] {self.pipeline}: {verdict}"
        with SmtpHook(smtp_conn_id=self.smtp_conn_id) as smtp:
            smtp.send_email_smtp(
                to=self.email, subject=subject, html_content=f"<pre>{_escape(text)}</pre>"
            )
        self.log.info("summary e-mailed to %s", ", ".join(self.email))


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
