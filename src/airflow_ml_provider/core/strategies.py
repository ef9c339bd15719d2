"""The deployment strategies a pipeline can name, each with the class that carries it out.

Dotted paths, not imports: the spec validates ``deployment.strategy`` against these names
without importing the deployers (the Kubernetes one imports the cncf.kubernetes provider).
No imports from the project.
"""

from __future__ import annotations

from typing import Literal, get_args

Strategy = Literal["alias", "batch", "kubernetes", "kserve"]

DEPLOYERS: dict[Strategy, str] = {
    "alias": "airflow_ml_provider.deployers.alias:AliasDeployer",
    "batch": "airflow_ml_provider.deployers.alias:BatchDeployer",
    "kubernetes": "airflow_ml_provider.deployers.kubernetes:KubernetesDeployer",
    "kserve": "airflow_ml_provider.deployers.kserve:KServeDeployer",
}
"""Strategy name -> ``module:Class`` of its Deployer (deployers.base)."""

STRATEGIES: tuple[Strategy, ...] = get_args(Strategy)
assert set(STRATEGIES) == set(DEPLOYERS), "every strategy needs its deployer"

DEPLOYMENT_TAG = "airflow_ml.deployment"
"""Model-version tag written at deployment: JSON ``{strategy, settings}`` — what a later
rollback needs to find the server (no secrets)."""

KSERVE_STORAGE_SCHEMES: tuple[str, ...] = (
    "gs://", "s3://", "https://", "http://", "pvc://", "hdfs://", "webhdfs://", "oci://",
    "hf://", "azureblob://",
)  # fmt: skip
"""Where KServe's storage initializer downloads models from (its docs' list); anything else
— a local path, file://, MLflow's proxied mlflow-artifacts:/ — the cluster cannot read."""
