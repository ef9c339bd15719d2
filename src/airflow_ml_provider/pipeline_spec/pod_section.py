"""The YAML contract of the pods a pipeline runs (training.kubernetes, and the serving pods
of deployment.kubernetes / kserve): image, resources, placement and identity — the image,
ServiceAccount and Secrets only as the platform's allow-lists let them."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Literal

from pydantic import Field, ValidationInfo, field_validator

from airflow_ml_provider.cluster import (
    SERVING_SERVICE_ACCOUNT,
    TRAINING_NAMESPACE,
    TRAINING_SERVICE_ACCOUNT,
)
from airflow_ml_provider.core.allow_lists import (
    DEFAULT_IMAGE_PREFIXES,
    DEFAULT_SECRETS,
    allowed_cluster_value,
    cluster_value_problem,
    context_list,
)
from airflow_ml_provider.core.connections import KUBERNETES_CONN_ID
from airflow_ml_provider.core.defaults import TRAINING_STARTUP_SECONDS
from airflow_ml_provider.pipeline_spec.section_base import Duration, _Strict

CHART_SERVICE_ACCOUNTS = (TRAINING_SERVICE_ACCOUNT, SERVING_SERVICE_ACCOUNT)
"""The ServiceAccounts the Helm chart creates: the default of allowed_service_accounts."""


def checked_resources(value: dict[str, Any]) -> dict[str, Any]:
    """A pod's ``resources``: ``requests`` and ``limits`` mappings, ``gpu`` a whole number."""
    for key, item in value.items():
        if key == "gpu":
            if isinstance(item, bool) or not isinstance(item, int) or not 0 <= item <= 16:
                raise ValueError(f"gpu: a whole number of GPUs from 0 to 16, got {item!r}")
        elif not isinstance(item, dict):
            raise ValueError(
                f"{key}: a mapping of resource names to amounts (cpu: '2', memory: 4Gi)"
            )
    return value


class _PodPlacement(_Strict):
    """Image, resources and scheduling of our pods (training or serving); each kind adds its
    namespace and ServiceAccount, whose defaults are what the Helm chart creates."""

    image: str = Field(
        description="Container image, e.g. registry.example.com/ml/trainer:1.4.2; must start "
        "with a prefix of [ml_provider] allowed_images."
    )
    automount_service_account_token: bool = Field(
        False, description="Mount the ServiceAccount token into the pod (off by default)."
    )
    resources: dict[Literal["requests", "limits", "gpu"], dict[str, str | int | float] | int] = (
        Field(
            default_factory=dict,
            description='Per-pod resources, e.g. {requests: {cpu: "2", memory: 4Gi}, '
            "limits: {memory: 8Gi}, gpu: 1}; gpu: N is the limit nvidia.com/gpu: N, and a GPU "
            "pod without node_selector / tolerations gets the platform's ([ml_provider] "
            "gpu_node_selector, gpu_tolerations: from the Helm values).",
        )
    )
    node_selector: dict[str, str] = Field(default_factory=dict)
    tolerations: list[dict[str, Any]] = Field(
        default_factory=list,
        description="Kubernetes tolerations, e.g. [{key: nvidia.com/gpu, operator: Exists, "
        "effect: NoSchedule}].",
    )
    kubernetes_conn_id: str = Field(
        KUBERNETES_CONN_ID, description="Airflow connection to the cluster."
    )
    env_from_secrets: list[str] = Field(
        default_factory=list,
        description="Kubernetes Secrets whose keys become the pod's environment (storage "
        "credentials, MLflow auth), each listed in [ml_provider] allowed_secrets; never put "
        "secrets in YAML.",
    )

    @field_validator("image")
    @classmethod
    def _allowed_image(cls, value: str, info: ValidationInfo) -> str:
        return allowed_cluster_value(
            value, info, "allowed_images", DEFAULT_IMAGE_PREFIXES, "image", by_prefix=True
        )

    @field_validator("resources")
    @classmethod
    def _resources_shape(cls, value: dict[str, Any]) -> dict[str, Any]:
        return checked_resources(value)

    @field_validator("env_from_secrets")
    @classmethod
    def _allowed_secrets(cls, value: list[str], info: ValidationInfo) -> list[str]:
        for name in value:
            allowed_cluster_value(name, info, "allowed_secrets", DEFAULT_SECRETS, "Secret")
        return value

    @field_validator("service_account", check_fields=False)
    @classmethod
    def _allowed_account(cls, value: str | None, info: ValidationInfo) -> str | None:
        if value is None:
            return None
        return allowed_cluster_value(
            value, info, "allowed_service_accounts", CHART_SERVICE_ACCOUNTS, "ServiceAccount"
        )


class KubernetesSpec(_PodPlacement):
    """Where and how the training pod runs (training.runner: kubernetes)."""

    namespace: str = Field(TRAINING_NAMESPACE, description="Namespace the pod runs in.")
    service_account: str | None = Field(
        TRAINING_SERVICE_ACCOUNT,
        description="ServiceAccount of the pod (the Helm chart's, with no API permissions; "
        "its token is mounted only when asked).",
    )
    priority_class: str | None = Field(None, description="PriorityClass name of the pod.")
    pod_template_file: str | None = Field(
        None,
        description="A pod template YAML the pod starts from (path relative to this file); "
        "only where [ml_provider] allow_pod_templates is set (a template can set any image, "
        "account or volume).",
    )

    @field_validator("pod_template_file")
    @classmethod
    def _templates_allowed(cls, value: str | None, info: ValidationInfo) -> str | None:
        if value is not None and not (info.context or {}).get("allow_pod_templates"):
            raise ValueError(
                "pod templates are not allowed: a template can set any image, ServiceAccount "
                "or volume; the platform allows them with [ml_provider] allow_pod_templates"
            )
        return value

    command: list[Annotated[str, Field(min_length=1, max_length=4_000)]] | None = Field(
        None,
        min_length=1,
        max_length=64,
        description="A team trainer image's command, e.g. [python, /app/train.py]: the pod runs "
        "it instead of this package's trainer; it reads the job from $AIRFLOW_ML_JOB and logs "
        "an MLflow model named 'model' to the run $MLFLOW_RUN_ID (see 'Your own training "
        "code'). Only for an image under [ml_provider] allowed_trainer_images; needs "
        "training.task and no estimator, candidates or entrypoint.",
    )

    @field_validator("command")
    @classmethod
    def _trainer_image(cls, value: list[str] | None, info: ValidationInfo) -> list[str] | None:
        image = info.data.get("image")
        if value is None or image is None:  # no image: refused at its own field
            return value
        problem = cluster_value_problem(
            image,
            context_list(info, "allowed_trainer_images", ()),
            "allowed_trainer_images",
            "a command for image",
            by_prefix=True,
        )
        if problem is not None:
            raise ValueError(
                f"{problem}: a command may be set only for a team trainer image (any other "
                "image would run what the YAML says)"
            )
        return value

    startup_timeout: Duration = Field(
        dt.timedelta(seconds=TRAINING_STARTUP_SECONDS),
        description="How long the pod may take to start.",
    )
    deferrable: bool = Field(True, description="Wait for the pod in the triggerer.")


class PodResourcesSpec(_Strict):
    """A pod's own resources on the Kubernetes runner (a candidate's, or a heavy step's)."""

    resources: dict[Literal["requests", "limits", "gpu"], dict[str, str | int | float] | int] = (
        Field(
            description='Its pod\'s resources, e.g. {requests: {cpu: "4"}, gpu: 1} (gpu: N is '
            "the limit nvidia.com/gpu: N)."
        )
    )

    @field_validator("resources")
    @classmethod
    def _resources_shape(cls, value: dict[str, Any]) -> dict[str, Any]:
        return checked_resources(value)
