"""DriftEventTrigger: watch a data source from the triggerer and fire when its data drifted
from the champion's training data (for an AssetWatcher: ``monitoring.mode: watcher``)."""

from __future__ import annotations

import asyncio
import tempfile
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from airflow.triggers.base import BaseEventTrigger, TriggerEvent

from airflow_ml_provider.core.connections import MLFLOW_CONN_ID


class DriftEventTrigger(BaseEventTrigger):
    """Every ``poll_interval`` seconds, ask the source when it last changed; when it did,
    read it and compare it with the champion's training data (the same check as the
    monitor DAG's ``check_drift``). Yields ``{"reason", "data_sha256"}`` for each changed
    version of the data that drifted; nothing for data that did not or was already judged.
    The blocking reads run in a thread so the triggerer's event loop never waits on them.

    :param source: the recent data's source dict (``hooks.data``).
    :param model_name: the registered model whose champion's training data is the baseline.
    :param drift: drift options (``ml.drift.detection.drift_report`` keywords).
    :param columns: compare only these columns.
    :param mlflow_conn_id: the MLflow connection (the embedded store when it does not exist).
    :param poll_interval: seconds between looks at the source.
    """

    def __init__(
        self,
        *,
        source: dict[str, Any],
        model_name: str,
        drift: dict[str, Any] | None = None,
        columns: list[str] | None = None,
        mlflow_conn_id: str = MLFLOW_CONN_ID,
        poll_interval: float = 300.0,
    ) -> None:
        super().__init__()
        self.source = dict(source)
        self.model_name = model_name
        self.drift = dict(drift or {})
        self.columns = list(columns) if columns else None
        self.mlflow_conn_id = mlflow_conn_id
        self.poll_interval = poll_interval

    def serialize(self) -> tuple[str, dict[str, Any]]:
        return (
            f"{type(self).__module__}.{type(self).__qualname__}",
            {
                "source": self.source,
                "model_name": self.model_name,
                "drift": self.drift,
                "columns": self.columns,
                "mlflow_conn_id": self.mlflow_conn_id,
                "poll_interval": self.poll_interval,
            },
        )

    async def run(self) -> AsyncIterator[TriggerEvent]:
        judged: float | None = None
        while True:
            judged, event = await asyncio.to_thread(self.check_once, judged)
            if event is not None:
                yield TriggerEvent(event)
            await asyncio.sleep(self.poll_interval)

    def check_once(self, judged: float | None) -> tuple[float | None, dict[str, Any] | None]:
        """(the source's change time now judged, the event to fire or None)."""
        import pandas as pd

        from airflow_ml_provider.hooks.data import DataSourceHook
        from airflow_ml_provider.storage.drift_baseline import check_drift

        hook = DataSourceHook(self.source)
        changed = hook.latest_change()
        if changed is None or changed == judged:
            return judged, None
        with tempfile.TemporaryDirectory(prefix="airflow-ml-watch-") as folder:
            target = Path(folder) / "recent.parquet"
            written = hook.write_parquet(target.as_uri())
            frame = pd.read_parquet(target)
        result = check_drift(frame, self.model_name, self.mlflow_conn_id, self.drift, self.columns)
        if not result["retrain"]:
            self.log.info("no retraining needed: %s", result["reason"])
            return changed, None
        return changed, {"reason": result["reason"], "data_sha256": written["sha256"]}
