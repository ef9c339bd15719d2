"""deploy_model on Kubernetes: roll an HTTP model server out, check it, undo it on failure.

Importing this module imports the cncf.kubernetes provider's hook, so the DAG factory imports
it only for pipelines with ``deployment.strategy: kubernetes``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from airflow_ml_provider.cluster import SERVING_NAMESPACE, SERVING_SERVICE_ACCOUNT
from airflow_ml_provider.core.connections import KUBERNETES_CONN_ID
from airflow_ml_provider.core.defaults import (
    CANARY_CHECKS,
    CANARY_DURATION_SECONDS,
    CANARY_INTERVAL_SECONDS,
    ROLLOUT_POLL_SECONDS,
    ROLLOUT_TIMEOUT_SECONDS,
    SERVING_PORT,
    SERVING_REPLICAS,
    CanaryCheck,
)
from airflow_ml_provider.deployers.kubernetes import CanaryPlan, KubernetesDeployer
from airflow_ml_provider.operators.canary_deferral import DeferredCanaryDeployment
from airflow_ml_provider.serving.manifests import ServerSettings, serving_name


class KubernetesDeploymentOperator(DeferredCanaryDeployment):
    """Deployment strategy ``kubernetes``: serve the promoted version over HTTP.

    Applies a Deployment serving ``models:/<model>/<version>`` (``ml.serve_verified``: the
    files are checked against their recorded digest, then MLflow's scoring server serves
    the verified copy) and a Service in front of it, waits for the rollout, and posts the
    model's logged input example to every new pod (and once through the Service) via the API
    server's proxy. On any failure the Deployment goes back to its previous ReplicaSet
    (``rollout undo``; a failed first rollout is deleted) and ``champion`` goes back to the
    previous version.

    With ``canary_percent`` a ``<name>-canary`` Deployment behind the same Service takes
    about that share of traffic for ``canary_duration`` seconds first, checked every
    ``canary_interval`` seconds (``canary_checks``: ready, no_restarts, smoke_test); a
    failing canary is deleted and the stable Deployment is never touched.

    The work is deployers.kubernetes.KubernetesDeployer's, which ``airflow-ml rollback`` and
    RollbackModelOperator use too. Takes AliasDeploymentOperator's parameters, and:

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
    :param deferrable: watch the canary from the triggerer (CanaryTrigger), freeing the
        worker slot for its ``canary_duration``; False: the task waits it out on its worker.
    """

    ui_color = "#d5e8ff"

    def __init__(
        self,
        *,
        image: str,
        namespace: str = SERVING_NAMESPACE,
        name: str | None = None,
        replicas: int = SERVING_REPLICAS,
        port: int = SERVING_PORT,
        rollout_timeout: float = ROLLOUT_TIMEOUT_SECONDS,
        service_account: str | None = SERVING_SERVICE_ACCOUNT,
        automount_service_account_token: bool = False,
        resources: dict[str, dict[str, Any]] | None = None,
        node_selector: dict[str, str] | None = None,
        tolerations: list[dict[str, Any]] | None = None,
        env_from_secrets: Sequence[str] = (),
        kubernetes_conn_id: str = KUBERNETES_CONN_ID,
        canary_percent: int | None = None,
        canary_duration: float = CANARY_DURATION_SECONDS,
        canary_interval: float = CANARY_INTERVAL_SECONDS,
        canary_checks: Sequence[CanaryCheck] = CANARY_CHECKS,
        poll_interval: float = ROLLOUT_POLL_SECONDS,
        deferrable: bool = True,
        **kwargs: Any,
    ) -> None:
        super().__init__(strategy="kubernetes", **kwargs)
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
        self.deferrable = deferrable

    def deployer(self) -> KubernetesDeployer:
        canary = None
        if self.canary_percent:
            canary = CanaryPlan(
                self.canary_percent, self.canary_duration, self.canary_interval, self.canary_checks
            )
        return KubernetesDeployer(
            self.model_name,
            settings=self.settings,
            kubernetes_conn_id=self.kubernetes_conn_id,
            canary=canary,
            rollout_timeout=self.rollout_timeout,
            poll_interval=self.poll_interval,
            mlflow_conn_id=self.mlflow_conn_id,
            log=self.log,
        )
