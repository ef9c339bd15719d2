"""The Python API for hand-written DAG files: build_dag(dict) gives the same pipeline as a
YAML file — parsed by Airflow's real DagBag from a DAG file, run through dag.test()."""

from __future__ import annotations

import shutil

import pytest
import yaml

from helpers.paths import EXAMPLE_CSV, EXAMPLE_YAML

DAG_FILE = """
from pathlib import Path

import yaml

from airflow_ml_provider.api import build_dag

spec = yaml.safe_load((Path(__file__).parent / "spec.yaml").read_text())
spec["pipeline"] = "api_from_dict"
spec["registry"] = {"model_name": "api_from_dict_model"}
spec["training"]["params"]["n_estimators"] = 20
dag = build_dag(spec, base_dir=Path(__file__).parent)
"""


def test_a_dag_file_builds_the_pipeline_from_a_dict_and_it_runs(tmp_path, airflow_db):
    from airflow.dag_processing.dagbag import DagBag

    from airflow_ml_provider.cli.local_run import collect_result, run_dag

    (tmp_path / "data").mkdir()
    shutil.copy(EXAMPLE_CSV, tmp_path / "data" / EXAMPLE_CSV.name)
    # A data file, not a pipeline file: the YAML only feeds the dict the DAG file builds.
    (tmp_path / "spec.yaml").write_text(EXAMPLE_YAML.read_text())
    (tmp_path / "churn_dag.py").write_text(DAG_FILE)
    bag = DagBag(dag_folder=str(tmp_path / "churn_dag.py"))
    assert bag.import_errors == {}
    dag = bag.dags["api_from_dict"]
    assert "train_model" in dag.task_dict and "deploy_model" in dag.task_dict

    dag_run = run_dag(dag)
    result = collect_result(dag, dag_run, "api_from_dict_model", "mlflow_default")
    assert result["state"] == "success", result.get("error")
    assert result["promoted"] is True and result["model"]["version"] == 1


def test_an_invalid_dict_names_the_field(tmp_path):
    from airflow_ml_provider.api import SpecError, build_dag

    spec = yaml.safe_load(EXAMPLE_YAML.read_text())
    spec["evaluation"]["metricz"] = spec["evaluation"].pop("metrics")
    spec["retries"] = "two"
    with pytest.raises(SpecError) as raised:
        build_dag(spec, base_dir=tmp_path)
    text = str(raised.value)
    assert "retries: expected an integer, got 'two'" in text
    assert "evaluation.metricz" in text and "did you mean 'metrics'" in text
    with pytest.raises(TypeError, match="base_dir"):
        build_dag(spec)
