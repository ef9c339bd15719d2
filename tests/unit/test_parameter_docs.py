"""Every operator, sensor, hook, trigger and notifier of the package documents each parameter
of its constructor (``:param name:`` in the docstring of the class that defines it), and the
list below covers every one the provider metadata declares."""

from __future__ import annotations

import importlib
import inspect

import pytest

DOCUMENTED = [
    "airflow_ml_provider.operators.validation.ValidateDataOperator",
    "airflow_ml_provider.operators.training.TrainingJobOperator",
    "airflow_ml_provider.operators.changes.CheckChangesOperator",
    "airflow_ml_provider.operators.training.LocalTrainingOperator",
    "airflow_ml_provider.operators.kubernetes_training.KubernetesTrainingOperator",
    "airflow_ml_provider.operators.job_pods.JobPodOperator",
    "airflow_ml_provider.operators.kubernetes_steps.KubernetesPlanPartitionsOperator",
    "airflow_ml_provider.operators.kubernetes_steps.KubernetesAssembleModelOperator",
    "airflow_ml_provider.operators.kubernetes_steps.KubernetesEvaluateModelOperator",
    "airflow_ml_provider.operators.kubernetes_steps.KubernetesValidateDataOperator",
    "airflow_ml_provider.operators.partitions.PlanPartitionsOperator",
    "airflow_ml_provider.operators.partitions.AssemblePartitionedModelOperator",
    "airflow_ml_provider.operators.evaluation.EvaluateModelOperator",
    "airflow_ml_provider.operators.approval.PromotionApprovalOperator",
    "airflow_ml_provider.operators.kubernetes_deployment.KubernetesDeploymentOperator",
    "airflow_ml_provider.operators.kserve_deployment.KServeDeploymentOperator",
    "airflow_ml_provider.operators.candidates.CandidateSelection",
    "airflow_ml_provider.operators.candidates.SelectModelOperator",
    "airflow_ml_provider.operators.kubernetes_training.KubernetesSelectModelOperator",
    "airflow_ml_provider.operators.monitoring.DriftMonitorOperator",
    "airflow_ml_provider.operators.monitoring.LiveMetricsOperator",
    "airflow_ml_provider.operators.monitoring.RequestRetrainingOperator",
    "airflow_ml_provider.operators.notify.RunSummaryOperator",
    "airflow_ml_provider.operators.config_error.ConfigErrorOperator",
    "airflow_ml_provider.triggers.data.NewDataTrigger",
    "airflow_ml_provider.triggers.drift.DriftEventTrigger",
    "airflow_ml_provider.triggers.canary.CanaryTrigger",
    "airflow_ml_provider.operators.canary_deferral.DeferredCanaryDeployment",
    "airflow_ml_provider.notifications.notifier.TaskAlertNotifier",
    "airflow_ml_provider.notifications.notifier.ConfiguredNotifier",
    "airflow_ml_provider.operators.snapshot.SnapshotDataOperator",
    "airflow_ml_provider.operators.registry.RegisterModelOperator",
    "airflow_ml_provider.operators.registry.SetModelAliasOperator",
    "airflow_ml_provider.operators.registry.PromoteModelOperator",
    "airflow_ml_provider.operators.registry.RollbackModelOperator",
    "airflow_ml_provider.operators.deployment.AliasDeploymentOperator",
    "airflow_ml_provider.operators.batch_scoring.BatchScoringOperator",
    "airflow_ml_provider.sensors.data.NewDataSensor",
    "airflow_ml_provider.hooks.mlflow.MlflowHook",
    "airflow_ml_provider.hooks.data.DataSourceHook",
]


@pytest.mark.parametrize("path", DOCUMENTED)
def test_every_parameter_is_documented(path):
    module, _, name = path.rpartition(".")
    cls = getattr(importlib.import_module(module), name)
    parameters = [
        p for p in inspect.signature(cls.__init__).parameters if p not in ("self", "args", "kwargs")
    ]
    # An inherited constructor is documented where it is defined.
    owner = next(base for base in cls.__mro__ if "__init__" in vars(base))
    doc = inspect.getdoc(owner) or ""
    assert parameters
    assert [p for p in parameters if f":param {p}:" not in doc] == []


def test_the_list_covers_every_class_the_provider_declares():
    import airflow_ml_provider

    info = airflow_ml_provider.get_provider_info()
    modules = [
        m for kind in ("operators", "sensors", "hooks", "triggers") for e in info[kind]
        for m in e["python-modules"]
    ]  # fmt: skip
    from airflow.sdk import BaseHook, BaseOperator
    from airflow.triggers.base import BaseTrigger

    declared = set(info["notifications"])
    for name in modules:
        declared |= {
            f"{name}.{cls_name}"
            for cls_name, cls in inspect.getmembers(importlib.import_module(name), inspect.isclass)
            if cls.__module__ == name and issubclass(cls, BaseOperator | BaseHook | BaseTrigger)
        }
    assert declared - set(DOCUMENTED) == set()
