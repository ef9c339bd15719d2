"""A valid pipeline file's text, and writing and loading pipeline files in tests."""

from __future__ import annotations

from pathlib import Path

import pytest

from airflow_ml_provider.pipeline_spec import SpecError, load_pipeline

GOOD = """\
pipeline: churn_ct
description: Retrain churn.
owner: ml-platform
schedule: "@daily"
start_date: 2026-01-01
retries: 2
retry_delay: 5m
data:
  source: data/churn.csv
  target: churned
  split: {test_size: 0.25, seed: 7, stratify: true}
validation:
  expectations:
    - expect_column_values_to_not_be_null: {column: age}
training:
  estimator: sklearn.ensemble.RandomForestClassifier
  params: {n_estimators: 10}
evaluation:
  primary_metric: roc_auc
  metrics: [roc_auc, f1]
  thresholds: {roc_auc: 0.8}
registry:
  model_name: churn
alerts:
  email: [oncall@example.com]
"""


GOOD_TRAINING = """\
training:
  estimator: sklearn.ensemble.RandomForestClassifier
  params: {n_estimators: 10}
"""
"""GOOD's training section, for tests that put another one in its place."""


def write(tmp_path: Path, text: str, name: str = "churn.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def errors_of(path: Path) -> str:
    with pytest.raises(SpecError) as caught:
        load_pipeline(path)
    return str(caught.value)


def assert_refused(path: Path, expected: str) -> None:
    """Loading ``path`` fails with ``expected`` (``:line:col: field: message``) after the
    file's own path."""
    message = errors_of(path)
    assert f"{path}{expected}" in message, message
