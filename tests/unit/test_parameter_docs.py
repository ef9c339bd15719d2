"""Operators, sensors and hooks meant to be used on their own in hand-written DAGs document
every parameter of their constructor (``:param name:`` in the class docstring)."""

from __future__ import annotations

import importlib
import inspect

import pytest

DOCUMENTED = [
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
    doc = inspect.getdoc(cls) or ""
    assert parameters
    assert [p for p in parameters if f":param {p}:" not in doc] == []
