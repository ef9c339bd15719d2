"""What every DAG of a pipeline takes from its spec: start date, default args (owner, retry
policy, failure mails) and the `stalled` deadline."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Any, Literal

from airflow_ml_provider.notifications.failure import record_failure
from airflow_ml_provider.notifications.notifier import ConfiguredNotifier, TaskAlertNotifier

if TYPE_CHECKING:
    from airflow_ml_provider.pipeline_spec.models import PipelineSpec

EPOCH = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)


def as_datetime(value: dt.date | dt.datetime | None) -> dt.datetime:
    if value is None:
        return EPOCH
    if isinstance(value, dt.datetime):
        return value if value.tzinfo else value.replace(tzinfo=dt.UTC)
    return dt.datetime(value.year, value.month, value.day, tzinfo=dt.UTC)


def default_args(spec: PipelineSpec) -> dict[str, Any]:
    """Every task's owner, retry policy and time limit, the record of its failure (XCom
    ``failure``, read by the CLI and the UI) and the failure/retry mails."""
    args: dict[str, Any] = {
        "owner": spec.owner,
        "retries": spec.retries,
        "retry_delay": spec.retry_delay,
    }
    # Only what differs from Airflow's defaults: every default arg costs time in every task.
    optional = {
        "retry_exponential_backoff": spec.retry_exponential_backoff or None,
        "max_retry_delay": spec.max_retry_delay,
        "execution_timeout": spec.execution_timeout,
    }
    args.update((key, value) for key, value in optional.items() if value is not None)
    alerts = spec.alerts
    others = [ConfiguredNotifier(n.class_, n.kwargs) for n in alerts.notifiers]
    args["on_failure_callback"] = [record_failure]
    callbacks: tuple[tuple[Literal["failure", "retry"], str], ...] = (
        ("failure", "on_failure_callback"),
        ("retry", "on_retry_callback"),
    )
    for event, callback in callbacks:
        if event not in alerts.on:
            continue
        mail = [TaskAlertNotifier(event, alerts.email, alerts.smtp_conn_id)] if alerts.email else []
        args[callback] = [*args.get(callback, []), *mail, *others]
    return args


def stalled(spec: PipelineSpec) -> Any:
    """The DeadlineAlert of `stalled` (alerts.deadline after the logical date), or None."""
    alerts = spec.alerts
    if "stalled" not in alerts.on or alerts.deadline is None:
        return None
    from airflow_ml_provider.notifications.deadline import stalled_deadline

    return stalled_deadline(spec.pipeline, alerts.deadline, alerts.email, alerts.smtp_conn_id)
