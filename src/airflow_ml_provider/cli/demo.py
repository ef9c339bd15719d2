"""``airflow-ml demo``: a real dataset (scikit-learn's breast cancer set) and the example YAML,
under a pipeline id and model name of its own (dags/pipelines/breast_cancer.yaml, the same
pipeline in the DAGs folder, is ``breast_cancer_ct`` writing ``breast_cancer``)."""

from __future__ import annotations

from pathlib import Path

DEMO_YAML = """\
# yaml-language-server: $schema=../pipeline.schema.json
pipeline: breast_cancer_demo
description: Retrain the tumour classifier when new labelled data lands.
owner: ml-platform
schedule: "@daily"
start_date: 2026-01-01
tags: [demo]
retries: 2
retry_delay: 5m
data:
  source: data/breast_cancer.csv
  format: csv
  target: target
  features: null
  split: {test_size: 0.25, seed: 7, stratify: true}
validation:
  expectations:
    - expect_table_row_count_to_be_between: {min_value: 100}
    - expect_column_values_to_not_be_null: {column: mean radius}
    - expect_column_values_to_be_between: {column: mean radius, min_value: 0, max_value: 50}
training:
  estimator: sklearn.ensemble.RandomForestClassifier
  params: {n_estimators: 200, max_depth: 6, random_state: 7}
  runner: local
evaluation:
  primary_metric: roc_auc
  metrics: [roc_auc, f1, accuracy]
  thresholds: {roc_auc: 0.9}
  min_improvement: 0.0
registry:
  model_name: breast_cancer_demo
  mlflow_conn_id: mlflow_default
deployment:
  strategy: alias
alerts:
  email: [ml-oncall@example.com]
"""


def write_dataset(path: Path) -> Path:
    """Write scikit-learn's breast cancer data set (569 rows, 30 features) as CSV."""
    from sklearn.datasets import load_breast_cancer

    path.parent.mkdir(parents=True, exist_ok=True)
    load_breast_cancer(as_frame=True).frame.to_csv(path, index=False)
    return path


def write_demo(folder: Path) -> Path:
    """Write data/breast_cancer.csv and breast_cancer.yaml into ``folder``; return the YAML."""
    folder.mkdir(parents=True, exist_ok=True)
    write_dataset(folder / "data" / "breast_cancer.csv")
    yaml_path = folder / "breast_cancer.yaml"
    yaml_path.write_text(
        DEMO_YAML.replace("# yaml-language-server: $schema=../pipeline.schema.json\n", "")
    )
    return yaml_path
