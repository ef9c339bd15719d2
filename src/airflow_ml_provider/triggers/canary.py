"""CanaryTrigger: the triggerer watches a serving canary, so its minutes hold no worker slot.

A deploy_model operator with a canary (operators.canary_deferral) starts it on a worker,
defers with this trigger and
resumes when it yields: ``{"status": "healthy", "rounds", "started"}`` after ``duration``
seconds of passing checks, or ``{"status": "failed", "problem", ...}`` at the first failed one
(the operator then takes the canary back and puts ``champion`` back). Each round is the
deployer's ``canary_problem`` (the ``deployer`` class the watch names: KubernetesDeployer,
KServeDeployer) — the same checks a canary watched in-process gets — run in a thread, as the
Kubernetes client blocks.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from typing import Any

from airflow.triggers.base import BaseTrigger, TriggerEvent


class CanaryTrigger(BaseTrigger):
    """Check the canary every ``interval`` seconds for ``duration`` seconds.

    :param watch: what the deployer's ``watch`` returned (plain data): its class, what the
        operator started, the canary, what to check it with, duration and interval.
    """

    def __init__(self, watch: dict[str, Any]) -> None:
        super().__init__()
        self.watch = watch

    def serialize(self) -> tuple[str, dict[str, Any]]:
        return f"{type(self).__module__}.{type(self).__name__}", {"watch": self.watch}

    async def run(self) -> AsyncIterator[TriggerEvent]:
        from airflow.sdk.module_loading import import_string

        watch = self.watch
        rounds = 0
        try:
            deployer = await asyncio.to_thread(import_string(watch["deployer"]).watcher, watch)
            end = time.monotonic() + float(watch["duration"])
            while (left := end - time.monotonic()) > 0:
                await asyncio.sleep(min(float(watch["interval"]), left))
                rounds += 1
                problem = await asyncio.to_thread(deployer.canary_problem, watch)
                if problem:
                    yield TriggerEvent(self._event("failed", rounds, problem))
                    return
        except Exception as error:  # the operator cleans up: the canary must not be left
            problem = f"the canary could not be checked: {type(error).__name__}: {error}"
            yield TriggerEvent(self._event("failed", rounds, problem))
            return
        yield TriggerEvent(self._event("healthy", rounds))

    def _event(self, status: str, rounds: int, problem: str | None = None) -> dict[str, Any]:
        """The event: the outcome, and what the operator started (it resumes from that)."""
        return {
            "status": status,
            "rounds": rounds,
            "problem": problem,
            "started": self.watch["started"],
        }
