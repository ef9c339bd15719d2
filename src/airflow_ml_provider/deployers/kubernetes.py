"""Strategy ``kubernetes``: an HTTP model server (Deployment + Service) that follows the
champion — rolled out, checked and undone on failure; rolled back to an older version's pods.

Importing this module imports the cncf.kubernetes provider's hook, so it is imported only
for pipelines (and rollbacks) that deploy to Kubernetes.
"""

from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass, field
from typing import Any

from airflow.providers.cncf.kubernetes.hooks.kubernetes import KubernetesHook
from kubernetes.client.exceptions import ApiException

from airflow_ml_provider.core.defaults import (
    CANARY_CHECKS,
    CANARY_DURATION_SECONDS,
    CANARY_INTERVAL_SECONDS,
    CanaryCheck,
)
from airflow_ml_provider.deployers.base import ClusterDeployer
from airflow_ml_provider.hooks.mlflow import MlflowHook
from airflow_ml_provider.ml.registry.aliases import serving_input
from airflow_ml_provider.serving import rollout
from airflow_ml_provider.serving.manifests import (
    CANARY,
    STABLE,
    ServerSettings,
    canary_replicas,
    server_deployment,
    server_service,
)
from airflow_ml_provider.serving.rollout import RolloutFailed


@dataclass(frozen=True)
class CanaryPlan:
    """A canary before the full rollout (deployment.kubernetes.canary in YAML)."""

    percent: int
    duration: float = CANARY_DURATION_SECONDS
    interval: float = CANARY_INTERVAL_SECONDS
    checks: list[CanaryCheck] = field(default_factory=lambda: list(CANARY_CHECKS))


class KubernetesDeployer(ClusterDeployer):
    """Serves ``models:/<model>/<version>`` with ``ml.serve_verified`` behind a Service.

    ``deploy`` applies the Deployment (after a canary when ``canary`` is set and another
    version serves), waits for the rollout and posts the model's input example to every new
    pod and once through the Service (via the API server's proxy); on failure the Deployment
    goes back to its previous ReplicaSet (a failed first rollout is deleted; a failed canary
    is deleted and stable never touched). ``rollback`` puts back the pods of an older version
    and checks them the same way.

    :param settings: where and how the server runs.
    :param canary: run a canary first (None: a direct rollout).

    And ClusterDeployer's parameters (``rollout_timeout``: seconds a rollout may take
    before it is undone).
    """

    strategy = "kubernetes"
    check_name = "rollout"

    settings_fields = ("name", "namespace", "port", "image", "replicas")

    def __init__(
        self,
        model_name: str,
        *,
        settings: ServerSettings,
        canary: CanaryPlan | None = None,
        **options: Any,
    ) -> None:
        super().__init__(model_name, **options)
        self.server = settings
        self.canary = canary
        self._payload: str | None = None

    # -- the Deployer interface ---------------------------------------------------------------

    def deploy(self, version: str) -> dict[str, Any]:
        started = self.begin(version)
        if started["canary"] is not None:
            started["canary"]["rounds"] = self._observe(started["canary"]["deployment"])
        return self.finish(version, started)

    # -- the phases of a deploy, for an operator that waits out the canary in the triggerer --

    def begin(self, version: str) -> dict[str, Any]:
        """Apply the Service and, when another version serves and a canary is planned, start
        the canary (applied, rolled out, smoke-tested). ``{"before": <version serving>,
        "canary": {deployment, replicas, traffic_percent} | None}``."""
        self._connect(version)
        server = self.server
        rollout.apply_service(self._core, server_service(server))
        before = rollout.current_version(self._apps, server.namespace, server.name)
        canary: dict[str, Any] | None = None
        if self.canary and before not in (None, version):
            canary = self._start_canary(version, self.canary)
        elif self.canary:
            self.log.info("no other version serving yet: no canary, a direct rollout")
        return {"before": before, "canary": canary}

    def finish(self, version: str, started: dict[str, Any]) -> dict[str, Any]:
        """Roll stable out to ``version`` and check it; delete the (healthy) canary."""
        if not hasattr(self, "_apps"):
            self._connect(version)
        server = self.server
        env = MlflowHook(self.mlflow_conn_id).subprocess_env()  # tracking URI + credentials
        deployment = server_deployment(server, self.model_name, version, env, track=STABLE)
        rollout.apply_deployment(self._apps, deployment)
        tested = self._settle(server.name, STABLE)
        canary = started["canary"]
        if canary is not None:
            rollout.delete_deployment(self._apps, server.namespace, canary["deployment"])
            self.log.info("canary healthy through %d round(s) of checks", canary["rounds"])
        return self._served(version, started["before"], tested, canary=canary)

    def stop_canary(self, started: dict[str, Any], problem: str) -> None:
        """A canary that failed its watch: delete it and raise, stable never touched."""
        if not hasattr(self, "_apps"):
            self._connect(None)
        undone = self._undo(started["canary"]["deployment"], CANARY)
        raise RolloutFailed(f"canary failed: {problem}; {undone}")

    def watch(self, started: dict[str, Any]) -> dict[str, Any]:
        """What CanaryTrigger needs to watch the started canary (plain data)."""
        assert self.canary is not None and started["canary"] is not None
        return {
            "deployer": f"{type(self).__module__}.{type(self).__name__}",
            "started": started,
            "model_name": self.model_name,
            "server": dataclasses.asdict(self.server),
            "canary": started["canary"]["deployment"],
            "payload": self._payload,
            "duration": self.canary.duration,
            "interval": self.canary.interval,
            "checks": list(self.canary.checks),
            "kubernetes_conn_id": self.kubernetes_conn_id,
        }

    @classmethod
    def watcher(cls, watch: dict[str, Any]) -> KubernetesDeployer:
        """A deployer that can check the canary ``watch`` names (in the triggerer)."""
        deployer = cls(
            watch["model_name"],
            settings=ServerSettings(**watch["server"]),
            kubernetes_conn_id=watch["kubernetes_conn_id"],
        )
        deployer._connect(None)
        deployer._payload = watch["payload"]
        return deployer

    def canary_problem(self, watch: dict[str, Any]) -> str | None:
        """One round of the checks of the canary ``watch`` names: the first failure as a
        sentence, or None."""
        name, checks = watch["canary"], watch["checks"]
        try:
            problem = rollout.unhealthy_pods(
                self._apps, self._core, self.server.namespace, name, list(checks)
            )
            if problem is None and "smoke_test" in checks:
                self._check(name)
        except (RolloutFailed, ApiException) as error:
            return _plain(error)
        return problem

    def rollback(self, to_version: str) -> dict[str, Any]:
        self._connect(to_version)
        server = self.server
        serving_before = rollout.serve_version(
            self._apps, server.namespace, server.name, self.model_name, to_version
        )
        tested = self._settle(server.name, STABLE)
        return self._served(to_version, serving_before, tested)

    def smoke_test(self) -> dict[str, Any]:
        server = self.server
        self._connect(None)
        version = rollout.current_version(self._apps, server.namespace, server.name)
        if version is None:
            raise RolloutFailed(f"no Deployment {server.namespace}/{server.name} serves")
        self._payload = serving_input(f"models:/{self.model_name}/{version}")
        return {"version": version, "pods_tested": self._check(server.name, service=True)}

    def settings(self) -> dict[str, Any]:
        server = self.server
        return {
            "name": server.name,
            "namespace": server.namespace,
            "port": server.port,
            "image": server.image,
            "replicas": server.replicas,
            "rollout_timeout": self.rollout_timeout,
        }

    @classmethod
    def server_settings(cls, recorded: dict[str, Any]) -> ServerSettings:
        return ServerSettings(**recorded)

    # -- steps --------------------------------------------------------------------------------

    def _connect(self, version: str | None) -> None:
        hook = KubernetesHook(conn_id=self.kubernetes_conn_id)
        self._api = hook.api_client
        self._apps, self._core = hook.apps_v1_client, hook.core_v1_client
        if version is not None:
            self._payload = serving_input(f"models:/{self.model_name}/{version}")
            if self._payload is None:
                self.log.warning("the model has no input example: pods get a readiness check only")

    def _served(
        self, version: str, before: str | None, tested: int, canary: dict | None = None
    ) -> dict[str, Any]:
        server = self.server
        self.log.info(
            "%s/%s serves version %s (was %s); %d pods answered the input example",
            server.namespace, server.name, version, before, tested,
        )  # fmt: skip
        return {
            "kubernetes": {
                "namespace": server.namespace,
                "deployment": server.name,
                "service": server.name,
                "replicas": server.replicas,
                "previous_version": before,
                "pods_tested": tested,
                "canary": canary,
            }
        }

    def _settle(self, name: str, track: str) -> int:
        """Wait for the applied rollout of ``name`` and smoke-test it; on failure undo
        (stable) or delete (canary) it and raise, saying what serves now."""
        try:
            self._wait(name)
            return self._check(name, service=track == STABLE)
        except (RolloutFailed, ApiException) as error:
            raise RolloutFailed(f"{_plain(error)}; {self._undo(name, track)}") from error

    def _start_canary(self, version: str, plan: CanaryPlan) -> dict[str, Any]:
        """Apply the canary beside stable, roll it out and smoke-test it; raises (after
        deleting it) when it fails."""
        server = self.server
        replicas = canary_replicas(server.replicas, plan.percent)
        name = server.deployment_name(CANARY)
        share = round(100 * replicas / (replicas + server.replicas))
        self.log.info("canary %s: %d pod(s), about %d%% of traffic", name, replicas, share)
        env = MlflowHook(self.mlflow_conn_id).subprocess_env()
        deployment = server_deployment(
            server, self.model_name, version, env, track=CANARY, replicas=replicas
        )
        rollout.apply_deployment(self._apps, deployment)
        try:
            self._settle(name, CANARY)
        except RolloutFailed as error:
            raise RolloutFailed(f"canary failed: {error}") from error
        return {"deployment": name, "replicas": replicas, "traffic_percent": share, "rounds": 0}

    def _observe(self, name: str) -> int:
        """Watch the canary in this process for the plan's duration (checks every interval);
        the number of rounds, or RolloutFailed after deleting it."""
        assert self.canary is not None
        plan = self.canary
        end = time.monotonic() + plan.duration
        rounds = 0
        while (left := end - time.monotonic()) > 0:
            time.sleep(min(plan.interval, left))
            rounds += 1
            problem = self.canary_problem({"canary": name, "checks": list(plan.checks)})
            if problem:
                self.stop_canary({"canary": {"deployment": name}}, problem)
        return rounds

    def _wait(self, name: str) -> None:
        rollout.wait_for_rollout(
            self._apps,
            self._core,
            self.server.namespace,
            name,
            timeout=self.rollout_timeout,
            poll=self.poll_interval,
            log=self.log.info,
        )

    def _check(self, name: str, *, service: bool = False) -> int:
        """Every pod of ``name`` (and, with ``service``, the Service once) answers the input
        example; how many pods answered (0 without an input example)."""
        if self._payload is None:
            return 0
        server = self.server
        tested = rollout.smoke_test(
            self._api, self._apps, self._core, server.namespace, name, server.port, self._payload
        )
        if service:
            rollout.predict_through_proxy(
                self._api, server.namespace, server.name, server.port, self._payload,
                kind="services",
            )  # fmt: skip
        return tested

    def _undo(self, name: str, track: str) -> str:
        """Undo the rollout of ``name``; a sentence saying what serves now."""
        namespace = self.server.namespace
        if track == CANARY:
            rollout.delete_deployment(self._apps, namespace, name)
            return f"canary Deployment {namespace}/{name} deleted"
        restored = rollout.undo(self._apps, namespace, name)
        if restored is None:
            return f"first rollout: Deployment {namespace}/{name} deleted"
        try:
            self._wait(name)
        except RolloutFailed as error:  # still report what was done; the task fails anyway
            self.log.error("the rolled-back revision is not ready either: %s", error)
        return (
            f"Deployment {namespace}/{name} rolled back to its revision serving version {restored}"
        )


def _plain(error: Exception) -> str:
    if isinstance(error, ApiException):
        return f"Kubernetes API error {error.status} {error.reason}"
    return str(error)
