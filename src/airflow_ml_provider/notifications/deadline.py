"""The `stalled` alert: an Airflow deadline alert whose callback, run by the triggerer when
a DAG run has not finished ``alerts.deadline`` after its logical date, mails the people in
``alerts.email``."""

from __future__ import annotations

import asyncio
import datetime as dt
from typing import Any

from airflow_ml_provider.notifications.mails import Mail, stalled_mail


def stalled_deadline(pipeline: str, after: dt.timedelta, to: list[str], smtp_conn_id: str):
    """The DeadlineAlert for ``DAG(deadline=...)``: ``after`` past the run's logical date."""
    from airflow.sdk.definitions.callback import AsyncCallback
    from airflow.sdk.definitions.deadline import DeadlineAlert, DeadlineReference

    return DeadlineAlert(
        reference=DeadlineReference.DAGRUN_LOGICAL_DATE,
        interval=after,
        callback=AsyncCallback(
            send_stalled_mail,
            kwargs={
                "pipeline": pipeline,
                "after_seconds": after.total_seconds(),
                "to": list(to),
                "smtp_conn_id": smtp_conn_id,
            },
        ),
        name=f"{pipeline}-stalled",
    )


async def send_stalled_mail(
    *,
    pipeline: str,
    after_seconds: float,
    to: list[str],
    smtp_conn_id: str,
    context: dict[str, Any] | None = None,
) -> str:
    """The deadline callback (the triggerer awaits it): render and send the stalled mail.
    The send itself runs in a thread so the triggerer's event loop does not wait on SMTP."""
    from airflow.sdk.configuration import conf

    run = (context or {}).get("dag_run") or {}
    base_url = conf.get("api", "base_url", fallback="http://localhost:8080/").rstrip("/")
    mail = stalled_mail(pipeline, dt.timedelta(seconds=after_seconds), run, base_url)
    await asyncio.to_thread(_send, mail, to, smtp_conn_id)
    return mail.subject


def _send(mail: Mail, to: list[str], smtp_conn_id: str) -> None:
    from airflow_ml_provider.notifications.notifier import send_mail

    send_mail(mail, to, smtp_conn_id, {})
