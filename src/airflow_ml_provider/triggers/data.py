"""NewDataTrigger: the async half of NewDataSensor, polled by the triggerer."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from typing import Any

from airflow.triggers.base import BaseTrigger, TriggerEvent


def is_newer(changed_at: float | None, baseline: float | None) -> bool:
    """Whether a source that last changed at ``changed_at`` has data past ``baseline``."""
    return changed_at is not None and (baseline is None or changed_at > baseline)


class NewDataTrigger(BaseTrigger):
    """Poll ``DataSourceHook(source).latest_change()`` until it is newer than ``baseline``.

    The (blocking) check runs in a thread, at once and then every ``poke_interval`` seconds.
    Yields one event: ``{"status": "success", "changed_at", "source"}``, ``{"status":
    "timeout", ...}`` once ``end_at`` (epoch seconds) has passed, or ``{"status": "error",
    "message"}`` when the check raises.

    :param source: a source dict (``hooks.data``).
    :param baseline: the change time (epoch seconds) to beat; None: any data counts.
    :param poke_interval: seconds between checks.
    :param end_at: epoch seconds after which it yields ``timeout``; None: never.
    """

    def __init__(
        self,
        source: dict[str, Any],
        baseline: float | None,
        poke_interval: float,
        end_at: float | None = None,
    ) -> None:
        super().__init__()
        self.source = source
        self.baseline = baseline
        self.poke_interval = poke_interval
        self.end_at = end_at

    def serialize(self) -> tuple[str, dict[str, Any]]:
        return (
            f"{type(self).__module__}.{type(self).__qualname__}",
            {
                "source": self.source,
                "baseline": self.baseline,
                "poke_interval": self.poke_interval,
                "end_at": self.end_at,
            },
        )

    async def run(self) -> AsyncIterator[TriggerEvent]:
        from airflow_ml_provider.hooks.data import DataSourceHook

        hook = DataSourceHook(self.source)
        source = hook.describe()
        checks = 0
        while True:
            try:
                changed_at = await asyncio.to_thread(hook.latest_change)
            except Exception as exc:  # reported to the task, which fails (or skips)
                yield TriggerEvent(
                    {"status": "error", "source": source, "message": f"{type(exc).__name__}: {exc}"}
                )
                return
            checks += 1
            if is_newer(changed_at, self.baseline):
                yield TriggerEvent(
                    {"status": "success", "source": source, "changed_at": changed_at}
                )
                return
            remaining = None if self.end_at is None else self.end_at - time.time()
            if remaining is not None and remaining <= 0:
                yield TriggerEvent(
                    {
                        "status": "timeout",
                        "source": source,
                        "changed_at": changed_at,
                        "checks": checks,
                    }
                )
                return
            self.log.info(
                "no new data in %s (changed at %s, baseline %s); next check in %ss",
                source,
                changed_at,
                self.baseline,
                self.poke_interval,
            )
            await asyncio.sleep(
                self.poke_interval if remaining is None else min(self.poke_interval, remaining)
            )
