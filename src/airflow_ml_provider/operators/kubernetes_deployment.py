"""deploy_model on Kubernetes: roll an HTTP model server out, check it, undo it on failure.

Importing this module imports the cncf.kubernetes provider's hook, so the DAG factory imports
it only for pipelines with ``deployment.strategy: kubernetes``.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

from airflow.providers.cncf.kubernetes.hooks.kubernetes import KubernetesHook
from kubernetes.client.exceptions import ApiException

from airflow_ml_provider.cluster import SERVING_NAMESPACE, SERVING_SERVICE_ACCOUNT
from airflow_ml_provider.hooks.mlflow import MlflowHook
from airflow_ml_provider.ml.registry import serving_input
from airflow_ml_provider.operators.deployment import AliasDeploymentOperator
from airflow_ml_provider.serving import rollout
from airflow_ml_provider.serving.manifests import (
    CANARY,
    STABLE,
    ServerSettings,
    canary_replicas,
    server_deployment,
    server_service,
    serving_name,
)
from airflow_ml_provider.serving.rollout import RolloutFailed


class KubernetesDeploymentOperator(AliasDeploymentOperator):
    """Deployment strategy ``kubernetes``: serve the promoted version over HTTP.

    Applies a Deployment serving ``models:/<model>/<version>`` (``ml.serve_verified``: the
    files are checked against their recorded digest, then ``mlflow models serve`` runs on
    the verified copy) and a Service in front of it, waits for the rollout, and posts the
    model's logged input example to every new pod (and once through the Service) via the API
    server's proxy. On any failure the Deployment goes back to its previous ReplicaSet
    (``rollout undo``; a failed first rollout is deleted) and ``champion`` goes back to the
    previous version.

    With ``canary_percent`` a ``<name>-canary`` Deployment behind the same Service takes
    about that share of traffic for ``canary_duration`` seconds first, checked every
    ``canary_interval`` seconds (``canary_checks``: ready, no_restarts, smoke_test); a
    failing canary is deleted and the stable Deployment is never touched.

    Takes AliasDeploymentOperator's parameters, and:

    :param image: the serving image (has mlflow and this package, e.g. the training image).
    :param namespace: where the server runs (the Helm chart's serving namespace by default).
    :param name: the Deployment and Service name (DNS-safe model name when None).
    :param replicas: server pods.
    :param port: the port the server listens on.
    :param rollout_timeout: seconds the rollout may take before it is undone.
    :param service_account: the pods' ServiceAccount.
    :param automount_service_account_token: mount its token (off: the server needs no API).
    :param resources: ``{requests: {...}, limits: {...}}`` of each server pod.
    :param node_selector: node labels the pods must run on.
    :param tolerations: Kubernetes tolerations.
    :param env_from_secrets: Secrets whose keys become the pods' environment (MLflow auth).
    :param kubernetes_conn_id: the Airflow connection to the cluster.
    :param canary_percent: run a canary taking about this share of traffic first, or None.
    :param canary_duration: seconds the canary runs before the full rollout.
    :param canary_interval: seconds between the canary's checks.
    :param canary_checks: what the canary must pass: ``ready``, ``no_restarts``,
        ``smoke_test``.
    :param poll_interval: seconds between rollout status reads.
    """

    strategy = "kubernetes"
    check_name = "rollout"
    ui_color = "#d5e8ff"

    def __init__(
        self,
        *,
        image: str,
        namespace: str = SERVING_NAMESPACE,
        name: str | None = None,
        replicas: int = 2,
        port: int = 8080,
        rollout_timeout: float = 600,
        service_account: str | None = SERVING_SERVICE_ACCOUNT,
        automount_service_account_token: bool = False,
        resources: dict[str, dict[str, Any]] | None = None,
        node_selector: dict[str, str] | None = None,
        tolerations: list[dict[str, Any]] | None = None,
        env_from_secrets: Sequence[str] = (),
        kubernetes_conn_id: str = "kubernetes_default",
        canary_percent: int | None = None,
        canary_duration: float = 900,
        canary_interval: float = 30,
        canary_checks: Sequence[str] = ("ready", "no_restarts", "smoke_test"),
        poll_interval: float = 2.0,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.settings = ServerSettings(
            name=name or serving_name(self.model_name),
            namespace=namespace,
            image=image,
            port=port,
            replicas=replicas,
            service_account=service_account,
            automount_service_account_token=automount_service_account_token,
            resources=dict(resources or {}),
            node_selector=dict(node_selector or {}),
            tolerations=list(tolerations or []),
            env_from_secrets=list(env_from_secrets),
            progress_deadline_seconds=int(rollout_timeout),
        )
        self.rollout_timeout = float(rollout_timeout)
        self.kubernetes_conn_id = kubernetes_conn_id
        self.canary_percent = canary_percent
        self.canary_duration = float(canary_duration)
        self.canary_interval = float(canary_interval)
        self.canary_checks = list(canary_checks)
        self.poll_interval = poll_interval

    def serve(self, context, version: str) -> dict[str, Any]:
        hook = KubernetesHook(conn_id=self.kubernetes_conn_id)
        self._api = hook.api_client
        self._apps, self._core = hook.apps_v1_client, hook.core_v1_client
        self._env = MlflowHook(self.mlflow_conn_id).subprocess_env()
        self._payload = serving_input(f"models:/{self.model_name}/{version}")
        if self._payload is None:
            self.log.warning("the model has no input example: pods are checked for readiness only")
        settings = self.settings
        rollout.apply_service(self._core, server_service(settings))
        serving_before = rollout.current_version(self._apps, settings.namespace, settings.name)
        canary: dict[str, Any] | None = None
        if self.canary_percent and serving_before not in (None, version):
            canary = self._canary(version)
        elif self.canary_percent:
            self.log.info("no other version serving yet: no canary, a direct rollout")
        tested = self._roll_out(version, STABLE)
        if canary is not None:
            rollout.delete_deployment(self._apps, settings.namespace, canary["deployment"])
        self.log.info(
            "%s/%s serves version %s (was %s); %d pods answered the input example",
            settings.namespace,
            settings.name,
            version,
            serving_before,
            tested,
        )
        return {
            "kubernetes": {
                "namespace": settings.namespace,
                "deployment": settings.name,
                "service": settings.name,
                "replicas": settings.replicas,
                "previous_version": serving_before,
                "pods_tested": tested,
                "canary": canary,
            }
        }

    # -- steps -------------------------------------------------------------------------------

    def _roll_out(self, version: str, track: str, replicas: int | None = None) -> int:
        """Apply, wait, smoke-test; on failure undo (stable) or delete (canary) and raise."""
        settings = self.settings
        name = settings.deployment_name(track)
        deployment = server_deployment(
            settings, self.model_name, version, self._env, track=track, replicas=replicas
        )
        rollout.apply_deployment(self._apps, deployment)
        try:
            self._wait(name)
            tested = self._check(name)
            if track == STABLE and self._payload is not None:
                rollout.predict_through_proxy(
                    self._api, settings.namespace, settings.name, settings.port,
                    self._payload, kind="services",
                )  # fmt: skip
            return tested
        except (RolloutFailed, ApiException) as error:
            raise RolloutFailed(f"{_plain(error)}; {self._undo(name, track)}") from error

    def _canary(self, version: str) -> dict[str, Any]:
        """The canary phase; raises (after deleting the canary) when a check fails."""
        settings = self.settings
        replicas = canary_replicas(settings.replicas, self.canary_percent)
        name = settings.deployment_name(CANARY)
        share = round(100 * replicas / (replicas + settings.replicas))
        self.log.info("canary %s: %d pod(s), about %d%% of traffic", name, replicas, share)
        try:
            self._roll_out(version, CANARY, replicas)
        except RolloutFailed as error:
            raise RolloutFailed(f"canary failed: {error}") from error
        end = time.monotonic() + self.canary_duration
        rounds = 0
        try:
            while (left := end - time.monotonic()) > 0:
                time.sleep(min(self.canary_interval, left))
                rounds += 1
                problem = rollout.unhealthy_pods(
                    self._apps, self._core, settings.namespace, name, self.canary_checks
                )
                if problem:
                    raise RolloutFailed(problem)
                if "smoke_test" in self.canary_checks:
                    self._check(name)
        except (RolloutFailed, ApiException) as error:
            undone = self._undo(name, CANARY)
            raise RolloutFailed(f"canary failed: {_plain(error)}; {undone}") from error
        self.log.info("canary healthy for %.0f s (%d checks)", self.canary_duration, rounds)
        return {
            "deployment": name,
            "replicas": replicas,
            "traffic_percent": share,
            "rounds": rounds,
        }

    def _wait(self, name: str) -> None:
        rollout.wait_for_rollout(
            self._apps,
            self._core,
            self.settings.namespace,
            name,
            timeout=self.rollout_timeout,
            poll=self.poll_interval,
            log=self.log.info,
        )

    def _check(self, name: str) -> int:
        if self._payload is None:
            return 0
        settings = self.settings
        return rollout.smoke_test(
            self._api,
            self._apps,
            self._core,
            settings.namespace,
            name,
            settings.port,
            self._payload,
        )

    def _undo(self, name: str, track: str) -> str:
        """Undo the rollout of ``name``; a sentence saying what serves now."""
        namespace = self.settings.namespace
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
        serving = f"version {restored}"
        return f"Deployment {namespace}/{name} rolled back to its revision serving {serving}"


def _plain(error: Exception) -> str:
    if isinstance(error, ApiException):
        return f"Kubernetes API error {error.status} {error.reason}"
    return str(error)
