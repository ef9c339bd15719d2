"""One home per default: a YAML section and the operator (or deployer) it configures start
from the same values, so a hand-written DAG behaves like a YAML pipeline. Each pair below
reads the spec's default from the pydantic field and the operator's from its signature."""

from __future__ import annotations

import dataclasses
import datetime as dt
import inspect
from typing import Any, get_args

import pytest
from pydantic import BaseModel
from pydantic_core import PydanticUndefined


def _plain(value: Any) -> Any:
    if isinstance(value, dt.timedelta):
        return value.total_seconds()
    if isinstance(value, list | tuple):
        return tuple(value)
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return value
    if isinstance(value, int | float):
        return float(value)
    return value


def spec_default(model: type[BaseModel], field: str) -> Any:
    info = model.model_fields[field]
    if info.default is not PydanticUndefined:
        return _plain(info.default)
    return _plain(info.default_factory())  # type: ignore[call-arg,misc]


def signature_default(target: Any, parameter: str) -> Any:
    if dataclasses.is_dataclass(target):
        found = next(f for f in dataclasses.fields(target) if f.name == parameter)
        if found.default is not dataclasses.MISSING:
            return _plain(found.default)
        return _plain(found.default_factory())  # type: ignore[misc]
    return _plain(inspect.signature(target).parameters[parameter].default)


def _pairs() -> list[tuple[str, type[BaseModel], str, Any, str]]:
    from airflow_ml_provider.deployers.base import ClusterDeployer
    from airflow_ml_provider.deployers.kserve import TrafficCanary
    from airflow_ml_provider.deployers.kubernetes import CanaryPlan
    from airflow_ml_provider.notifications.notifier import TaskAlertNotifier
    from airflow_ml_provider.operators.batch_scoring import BatchScoringOperator
    from airflow_ml_provider.operators.evaluation import EvaluateModelOperator
    from airflow_ml_provider.operators.job_pods import JobPodOperator
    from airflow_ml_provider.operators.kserve_deployment import KServeDeploymentOperator
    from airflow_ml_provider.operators.kubernetes_deployment import (
        KubernetesDeploymentOperator,
    )
    from airflow_ml_provider.operators.notify import RunSummaryOperator
    from airflow_ml_provider.operators.training import TrainingJobOperator
    from airflow_ml_provider.pipeline_spec.delivery_section import (
        AlertsSpec,
        BatchSpec,
        CanarySpec,
        KServeSpec,
        ServingSpec,
        TrafficCanarySpec,
    )
    from airflow_ml_provider.pipeline_spec.evaluation_section import BaselineSpec, EvaluationSpec
    from airflow_ml_provider.pipeline_spec.pod_section import KubernetesSpec
    from airflow_ml_provider.pipeline_spec.training_section import RegistrySpec
    from airflow_ml_provider.serving.manifests import ServerSettings

    serving = KubernetesDeploymentOperator.__init__
    kserve = KServeDeploymentOperator.__init__
    training = JobPodOperator.__init__  # the pod arguments of every job's pod
    pairs = [
        *[
            ("deployment.kubernetes", ServingSpec, name, serving, name)
            for name in ("namespace", "service_account", "replicas", "port", "rollout_timeout")
        ],
        ("deployment.kubernetes", ServingSpec, "kubernetes_conn_id", serving, "kubernetes_conn_id"),
        ("deployment.kubernetes", ServingSpec, "rollout_timeout", ClusterDeployer.__init__,
         "rollout_timeout"),
        ("deployment.kubernetes", ServingSpec, "rollout_timeout", ServerSettings,
         "progress_deadline_seconds"),
        *[
            ("deployment.kubernetes.canary", CanarySpec, name, serving, f"canary_{name}")
            for name in ("duration", "interval", "checks")
        ],
        *[
            ("deployment.kubernetes.canary", CanarySpec, name, CanaryPlan, name)
            for name in ("duration", "interval", "checks")
        ],
        *[
            ("deployment.kserve", KServeSpec, name, kserve, name)
            for name in ("namespace", "service_account", "mode", "min_replicas", "max_replicas",
                         "kubernetes_conn_id", "rollout_timeout")
        ],
        *[
            ("deployment.kserve.canary", TrafficCanarySpec, name, kserve, f"canary_{name}")
            for name in ("duration", "interval")
        ],
        *[
            ("deployment.kserve.canary", TrafficCanarySpec, name, TrafficCanary, name)
            for name in ("duration", "interval")
        ],
        *[
            ("training.kubernetes", KubernetesSpec, name, training, name)
            for name in ("namespace", "service_account", "kubernetes_conn_id",
                         "startup_timeout", "deferrable", "automount_service_account_token")
        ],
        ("alerts", AlertsSpec, "smtp_conn_id", RunSummaryOperator.__init__, "smtp_conn_id"),
        ("alerts", AlertsSpec, "smtp_conn_id", TaskAlertNotifier.__init__,
         "smtp_conn_id"),
        ("deployment.batch", BatchSpec, "output_conn_id", BatchScoringOperator.__init__,
         "gcp_conn_id"),
        ("registry", RegistrySpec, "mlflow_conn_id", TrainingJobOperator.__init__,
         "mlflow_conn_id"),
        ("registry", RegistrySpec, "mlflow_conn_id", EvaluateModelOperator.__init__,
         "mlflow_conn_id"),
        ("evaluation.baseline", BaselineSpec, "min_improvement",
         EvaluateModelOperator.__init__, "baseline_min_improvement"),
        *[
            ("evaluation", EvaluationSpec, name, EvaluateModelOperator.__init__, name)
            for name in ("min_improvement", "bootstrap_samples", "first_run", "confidence",
                         "sample_weight", "positive_class")
        ],
    ]  # fmt: skip
    return pairs


PAIRS = _pairs()


@pytest.mark.parametrize(
    ("section", "model", "field", "target", "parameter"),
    PAIRS,
    ids=[f"{p[0]}.{p[2]}->{getattr(p[3], '__qualname__', p[3])}.{p[4]}" for p in PAIRS],
)
def test_the_spec_and_the_operator_start_from_the_same_default(
    section, model, field, target, parameter
):
    assert spec_default(model, field) == signature_default(target, parameter), (
        f"{section}.{field} and {target.__qualname__}({parameter}=...) differ"
    )


def test_nested_gate_defaults_are_the_operators():
    """Slices and the per-partition gate: the operator fills what a hand-written DAG leaves
    out from the same table the spec's fields default to."""
    from airflow_ml_provider.core.defaults import (
        CANARY_CHECKS,
        DEFAULT_SPLIT,
        PER_PARTITION_DEFAULTS,
        SLICE_DEFAULTS,
    )
    from airflow_ml_provider.pipeline_spec.data_section import SplitSpec
    from airflow_ml_provider.pipeline_spec.delivery_section import CanaryCheck
    from airflow_ml_provider.pipeline_spec.evaluation_section import PartitionGateSpec, SliceSpec

    for name, value in PER_PARTITION_DEFAULTS.items():
        assert spec_default(PartitionGateSpec, name) == _plain(value)
    for name, value in SLICE_DEFAULTS.items():
        assert spec_default(SliceSpec, name) == _plain(value)
    for name, value in DEFAULT_SPLIT.items():
        assert spec_default(SplitSpec, name) == _plain(value)
    assert get_args(CanaryCheck) == CANARY_CHECKS
