"""A deploy_model whose canary the triggerer watches (``deferrable=True``, the default).

The canary starts on a worker (applied, rolled out, checked once); the operator then defers
to CanaryTrigger and the worker slot is free for the canary's duration; the task resumes on a
worker to roll the version out to everyone, or to take the canary back and put ``champion``
back when a check failed. The deployer provides the phases: ``begin``, ``watch`` /
``watcher`` / ``canary_problem`` (the trigger's rounds), ``finish`` and ``stop_canary``.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from airflow.sdk.exceptions import AirflowException

from airflow_ml_provider.core.contracts import Deployment
from airflow_ml_provider.operators.deployment import AliasDeploymentOperator
from airflow_ml_provider.triggers.canary import CanaryTrigger


class DeferredCanaryDeployment(AliasDeploymentOperator):
    """AliasDeploymentOperator with a canary watched from the triggerer.

    Subclasses set ``self.deferrable`` and build a deployer with a canary plan
    (``deployer().canary``) and the phases above.
    """

    deferrable: bool = True

    def execute(self, context) -> Deployment:
        deployer: Any = self.deployer()
        if not (self.deferrable and deployer.canary is not None):
            return super().execute(context)
        hook, client, version = self._promoted_version()
        started = self._deploying(context, client, version, deployer, deployer.begin)
        if started["canary"] is None:  # nothing else serves yet: no canary, one rollout
            served = self._deploying(context, client, version, deployer, deployer.finish, started)
            return self._deployed(context, hook, client, version, deployer, served)
        duration = float(deployer.canary.duration)
        self.log.info(
            "canary started; the triggerer watches it for %.0f s (the worker slot is free)",
            duration,
        )
        self.defer(
            trigger=CanaryTrigger(deployer.watch(started)),
            method_name="resume_after_canary",
            # The trigger ends by itself after the duration; this only bounds a hung one.
            timeout=timedelta(seconds=duration + deployer.rollout_timeout),
        )
        raise AssertionError("defer() raises TaskDeferred")  # for the type checker

    def resume_after_canary(self, context, event: dict[str, Any]) -> Deployment:
        """Back on a worker after the canary's watch: roll out to everyone, or take the
        canary back (and ``champion`` with it)."""
        deployer: Any = self.deployer()
        started = event["started"]
        try:
            hook, client, version = self._promoted_version()
        except AirflowException:
            deployer.stop_canary(started, "champion moved while the canary ran")
            raise
        if event["status"] != "healthy":
            self._deploying(
                context, client, version, deployer,
                lambda _version: deployer.stop_canary(started, event["problem"]),
            )  # fmt: skip
        started["canary"]["rounds"] = event["rounds"]
        served = self._deploying(context, client, version, deployer, deployer.finish, started)
        return self._deployed(context, hook, client, version, deployer, served)
