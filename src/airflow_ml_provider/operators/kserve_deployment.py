"""deploy_model with KServe: point an InferenceService at the promoted version, check it over
the Open Inference Protocol, put it back on failure.

Importing this module imports the cncf.kubernetes provider's hook, so the DAG factory imports
it only for pipelines with ``deployment.strategy: kserve``.
"""

from __future__ import annotations

from typing import Any

from airflow_ml_provider.cluster import SERVING_NAMESPACE, SERVING_SERVICE_ACCOUNT
from airflow_ml_provider.core.connections import KUBERNETES_CONN_ID
from airflow_ml_provider.core.defaults import (
    CANARY_DURATION_SECONDS,
    CANARY_INTERVAL_SECONDS,
    KSERVE_MAX_REPLICAS,
    KSERVE_MIN_REPLICAS,
    KSERVE_MODE,
    ROLLOUT_POLL_SECONDS,
    ROLLOUT_TIMEOUT_SECONDS,
)
from airflow_ml_provider.deployers.kserve import KServeDeployer, TrafficCanary
from airflow_ml_provider.operators.canary_deferral import DeferredCanaryDeployment
from airflow_ml_provider.serving.inference_service import InferenceServiceSettings
from airflow_ml_provider.serving.manifests import serving_name


class KServeDeploymentOperator(DeferredCanaryDeployment):
    """Deployment strategy ``kserve``: a KServe InferenceService serves the promoted version.

    Creates or updates an InferenceService (``modelFormat: mlflow``, ``protocolVersion: v2``)
    whose ``storageUri`` is the version's artifact location, once the files there match the
    digest the training run recorded; waits until KServe reports it Ready (a failure is
    explained in one line) and posts the model's logged input example as a V2 inference
    request to its cluster-local URL. On failure the InferenceService goes back to the
    previous version's storage URI (a failed first deploy is deleted) and ``champion`` goes
    back to the previous version.

    With ``canary_percent`` KServe's ``canaryTrafficPercent`` sends that share of traffic to
    the new version for ``canary_duration`` seconds, checked on its own URL every
    ``canary_interval`` seconds, then promotes it to 100 %; a failing canary is pinned to
    0 % and the serving revision is never touched. Needs KServe's Serverless mode.

    The work is deployers.kserve.KServeDeployer's, which ``airflow-ml rollback`` and
    RollbackModelOperator use too. Takes AliasDeploymentOperator's parameters, and:

    :param namespace: where the InferenceService runs (the Helm chart's serving namespace).
    :param name: its name, also the model name in V2 paths (DNS-safe model name when None).
    :param service_account: the predictor's ServiceAccount (its storage credentials).
    :param min_replicas: fewest predictor pods (0: scale to zero when idle, Serverless).
    :param max_replicas: most predictor pods under load.
    :param mode: ``serverless`` (Knative; canaries, scale to zero) or ``raw`` (Deployments).
    :param resources: ``{requests: {...}, limits: {...}}`` of the predictor container.
    :param node_selector: node labels the predictor pods must run on.
    :param tolerations: Kubernetes tolerations.
    :param storage_root: the MLflow server's artifact destination as the cluster reads it
        (gs://..., s3://...), for artifacts MLflow reports as ``mlflow-artifacts:/``.
    :param kubernetes_conn_id: the Airflow connection to the cluster.
    :param canary_percent: traffic share (1-99) of a canary first, or None.
    :param canary_duration: seconds the canary runs before promotion.
    :param canary_interval: seconds between the canary's checks.
    :param rollout_timeout: seconds KServe may take to report Ready.
    :param poll_interval: seconds between status reads.
    :param deferrable: watch the canary from the triggerer (CanaryTrigger), freeing the
        worker slot for its ``canary_duration``; False: the task waits it out on its worker.
    """

    ui_color = "#d5e8ff"

    def __init__(
        self,
        *,
        namespace: str = SERVING_NAMESPACE,
        name: str | None = None,
        service_account: str | None = SERVING_SERVICE_ACCOUNT,
        min_replicas: int = KSERVE_MIN_REPLICAS,
        max_replicas: int = KSERVE_MAX_REPLICAS,
        mode: str = KSERVE_MODE,
        resources: dict[str, dict[str, Any]] | None = None,
        node_selector: dict[str, str] | None = None,
        tolerations: list[dict[str, Any]] | None = None,
        storage_root: str | None = None,
        kubernetes_conn_id: str = KUBERNETES_CONN_ID,
        canary_percent: int | None = None,
        canary_duration: float = CANARY_DURATION_SECONDS,
        canary_interval: float = CANARY_INTERVAL_SECONDS,
        rollout_timeout: float = ROLLOUT_TIMEOUT_SECONDS,
        poll_interval: float = ROLLOUT_POLL_SECONDS,
        deferrable: bool = True,
        **kwargs: Any,
    ) -> None:
        super().__init__(strategy="kserve", **kwargs)
        self.settings = InferenceServiceSettings(
            name=name or serving_name(self.model_name),
            namespace=namespace,
            service_account=service_account,
            min_replicas=min_replicas,
            max_replicas=max_replicas,
            mode=mode,
            resources=dict(resources or {}),
            node_selector=dict(node_selector or {}),
            tolerations=list(tolerations or []),
            storage_root=storage_root,
        )
        self.kubernetes_conn_id = kubernetes_conn_id
        self.canary = (
            TrafficCanary(canary_percent, float(canary_duration), float(canary_interval))
            if canary_percent
            else None
        )
        self.rollout_timeout = float(rollout_timeout)
        self.poll_interval = poll_interval
        self.deferrable = deferrable

    def deployer(self) -> KServeDeployer:
        return KServeDeployer(
            self.model_name,
            settings=self.settings,
            kubernetes_conn_id=self.kubernetes_conn_id,
            canary=self.canary,
            rollout_timeout=self.rollout_timeout,
            poll_interval=self.poll_interval,
            mlflow_conn_id=self.mlflow_conn_id,
            log=self.log,
        )
