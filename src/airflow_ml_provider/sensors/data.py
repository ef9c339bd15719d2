"""NewDataSensor: wait until the source has data newer than the last snapshot."""

from __future__ import annotations

import datetime as dt
import time
from typing import TYPE_CHECKING, Any

from airflow.sdk import BaseSensorOperator, PokeReturnValue
from airflow.sdk.exceptions import AirflowException, AirflowSensorTimeout, AirflowSkipException

if TYPE_CHECKING:
    from airflow.sdk import Context

DEFAULT_POKE_INTERVAL = dt.timedelta(minutes=5)
DEFAULT_TIMEOUT = dt.timedelta(hours=6)
_DEFER_MARGIN = 60.0  # the trigger reports its own timeout; the deferral's is only a backstop


class NewDataSensor(BaseSensorOperator):
    """Done when the source changed after the pipeline's last successful snapshot.

    "Changed" is ``DataSourceHook(source).latest_change()`` (newest file modification,
    BigQuery table modification, or an SQL ``change_query``), compared with the
    ``source_changed_at`` that snapshot_data recorded in
    ``<artifact_store>/snapshots/<pipeline>/last_snapshot.json`` — or with ``since`` (epoch
    seconds, datetime or ISO string; templated) when given. With neither, it is done as soon
    as the source has data. Returns (XCom) the change time in epoch seconds.

    ``deferrable=True`` (the default) hands the waiting to the triggerer (NewDataTrigger, which
    checks at once and then every ``poke_interval``); otherwise ``mode`` poke/reschedule
    applies. On timeout the task fails, or is skipped with ``soft_fail=True``.

    :param source: a source dict or a files URI, glob or prefix (templated).
    :param pipeline: the pipeline whose last snapshot is compared with.
    :param artifact_store: where that snapshot's record is (templated); ``[ml_provider]
        artifact_store`` when None.
    :param since: compare with this time instead (epoch seconds, datetime or ISO; templated).
    :param deferrable: wait in the triggerer (default) instead of in a worker slot.
    :param poke_interval: how often to look (seconds or a timedelta).
    :param timeout: how long to wait before failing or, with ``soft_fail``, skipping.
    """

    template_fields = ("source", "since", "artifact_store")
    ui_color = "#f0eee4"

    def __init__(
        self,
        *,
        source: dict[str, Any] | str,
        pipeline: str,
        artifact_store: str | None = None,
        since: float | dt.datetime | str | None = None,
        deferrable: bool = True,
        poke_interval: dt.timedelta | float = DEFAULT_POKE_INTERVAL,
        timeout: dt.timedelta | float = DEFAULT_TIMEOUT,
        **kwargs: Any,
    ) -> None:
        super().__init__(poke_interval=poke_interval, timeout=timeout, **kwargs)
        from airflow_ml_provider.hooks.data import normalize_source

        checked = normalize_source(source) if not _templated(source) else None
        if checked and checked["kind"] == "sql" and not checked.get("change_query"):
            raise ValueError(
                f"{self.task_id}: an sql source needs change_query (e.g. SELECT max(updated_at) "
                "FROM events) to tell when new data arrived"
            )
        self.source = source
        self.pipeline = pipeline
        self.artifact_store = artifact_store
        self.since = since
        self.deferrable = deferrable

    def baseline(self) -> float | None:
        """The change time new data must be newer than (None: any data will do)."""
        from airflow_ml_provider.hooks.data import to_epoch
        from airflow_ml_provider.storage.snapshots import last_snapshot

        if self.since not in (None, ""):
            return to_epoch(self.since)
        record = last_snapshot(self.artifact_store, self.pipeline)
        return None if record is None else record.get("source_changed_at")

    def _source(self) -> dict[str, Any]:
        from airflow_ml_provider.hooks.data import normalize_source

        return normalize_source(self.source)

    def poke(self, context: Context) -> PokeReturnValue:
        from airflow_ml_provider.hooks.data import DataSourceHook
        from airflow_ml_provider.triggers.data import is_newer

        hook = DataSourceHook(self._source())
        baseline = self.baseline()
        changed_at = hook.latest_change()
        self.log.info(
            "%s changed at %s; last snapshot's source changed at %s",
            hook.describe(),
            changed_at,
            baseline,
        )
        return PokeReturnValue(is_done=is_newer(changed_at, baseline), xcom_value=changed_at)

    def execute(self, context: Context) -> Any:
        if not self.deferrable:
            return super().execute(context)
        from airflow_ml_provider.triggers.data import NewDataTrigger

        baseline = self.baseline()
        self.log.info("waiting for data newer than %s (deferred to the triggerer)", baseline)
        self.defer(
            trigger=NewDataTrigger(
                source=self._source(),
                baseline=baseline,
                poke_interval=self.poke_interval,
                end_at=time.time() + self.timeout,
            ),
            method_name="execute_complete",
            timeout=dt.timedelta(seconds=self.timeout + max(_DEFER_MARGIN, self.poke_interval)),
        )

    def execute_complete(self, context: Context, event: dict[str, Any] | None = None) -> float:
        """Resume after the trigger fired: success returns the change time, else fail/skip."""
        event = event or {"status": "error", "message": "the trigger sent no event"}
        status = event.get("status")
        if status == "success":
            self.log.info("new data in %s (changed at %s)", event["source"], event["changed_at"])
            return event["changed_at"]
        if status == "timeout":
            message = (
                f"no new data in {event.get('source')} within {self.timeout:.0f}s "
                f"(latest change {event.get('changed_at')}, {event.get('checks')} checks)"
            )
            self.log.warning("%s", message)
            if self.soft_fail:
                raise AirflowSkipException(message)
            raise AirflowSensorTimeout(message)
        message = f"checking {event.get('source')} failed: {event.get('message')}"
        self.log.error("%s", message)
        if self.soft_fail:
            raise AirflowSkipException(message)
        raise AirflowException(message)


def _templated(value: Any) -> bool:
    if isinstance(value, str):
        return "{{" in value or "{%" in value
    if isinstance(value, dict):
        return any(_templated(v) for v in value.values())
    return False
