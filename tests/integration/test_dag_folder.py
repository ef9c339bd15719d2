"""A folder of good and bad YAML files, parsed by a real Airflow DagBag through the loader."""

from __future__ import annotations

import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

from airflow_ml_provider.core.steps import DEFAULT_PLAN
from helpers.paths import EXAMPLE_CSV, EXAMPLE_YAML, REPO

LOADER = REPO / "dags" / "ml_pipelines.py"
PIPELINE_ORDER = list(DEFAULT_PLAN)


def make_folder(root: Path) -> Path:
    pipelines = root / "pipelines"
    (pipelines / "data").mkdir(parents=True)
    shutil.copy(LOADER, root / "ml_pipelines.py")
    shutil.copy(EXAMPLE_CSV, pipelines / "data" / EXAMPLE_CSV.name)
    good = EXAMPLE_YAML.read_text()
    (pipelines / "breast_cancer.yaml").write_text(good)
    (pipelines / "other.yaml").write_text(
        good.replace("pipeline: breast_cancer_ct", "pipeline: other_ct").replace(
            "model_name: breast_cancer", "model_name: other"
        )
    )
    (pipelines / "broken.yaml").write_text(
        good.replace("pipeline: breast_cancer_ct", "pipeline: broken_ct").replace(
            "  estimator: sklearn", "  estimatr: sklearn"
        )
    )
    (pipelines / "copy.yaml").write_text(good)  # duplicate pipeline id
    (pipelines / "syntax.yaml").write_text("pipeline: [unclosed\n")
    return root


def test_bad_files_break_only_their_own_dag(tmp_path, airflow_db):
    from airflow.dag_processing.dagbag import DagBag

    folder = make_folder(tmp_path)
    bag = DagBag(dag_folder=str(folder))

    assert bag.import_errors == {}
    assert {"breast_cancer_ct", "other_ct"} <= set(bag.dag_ids)
    assert "broken_ct" not in bag.dag_ids
    broken = bag.get_dag("config_error__broken")
    assert broken.description.startswith("INVALID PIPELINE FILE: ")
    assert "broken.yaml:22:3: training.estimatr: unknown key 'estimatr'" in broken.description
    assert "did you mean 'estimator'?" in broken.doc_md
    assert [t.task_id for t in broken.tasks] == ["config_error"]
    assert "config-error" in broken.tags
    duplicate = bag.get_dag("config_error__copy")
    assert "pipeline id 'breast_cancer_ct' is already used by" in duplicate.description
    syntax = bag.get_dag("config_error__syntax")
    assert "syntax.yaml:2:1: invalid YAML" in syntax.description


def test_a_bad_file_writes_no_warning_into_other_pipelines_logs(tmp_path, airflow_db):
    """Every task of every pipeline parses the whole folder: the loader reports a bad file
    on its own config_error DAG and only at debug level in the log (a process with logging
    at DEBUG shows it; nothing at WARNING or above)."""
    folder = make_folder(tmp_path)
    script = (  # after Airflow configured logging: every record of ours, at every level
        "import logging, sys, airflow; ours = logging.getLogger('airflow_ml_provider');"
        "shown = logging.StreamHandler(sys.stdout); ours.addHandler(shown);"
        "shown.setFormatter(logging.Formatter('%(levelname)s %(name)s %(message)s'));"
        "ours.setLevel(logging.DEBUG); ours.propagate = False;"
        "from airflow_ml_provider.factory.loader import load_dags; load_dags(sys.argv[1])"
    )
    done = subprocess.run(
        [sys.executable, "-c", script, str(folder / "pipelines")],
        capture_output=True,
        text=True,
        check=True,
    )
    ours = [line for line in done.stdout.splitlines() if " airflow_ml_provider." in line]
    assert [line for line in ours if not line.startswith(("DEBUG", "INFO"))] == []
    assert any(line.startswith("DEBUG") and "broken.yaml" in line for line in ours)


def test_built_dag_has_the_pipeline_shape(tmp_path, airflow_db):
    from airflow.dag_processing.dagbag import DagBag

    bag = DagBag(dag_folder=str(make_folder(tmp_path)))
    dag = bag.get_dag("breast_cancer_ct")
    assert [t.task_id for t in dag.topological_sort()] == PIPELINE_ORDER
    for upstream, downstream in zip(PIPELINE_ORDER, PIPELINE_ORDER[1:], strict=False):
        assert downstream in dag.get_task(upstream).downstream_task_ids
    assert dag.owner == "ml-platform"
    assert set(dag.tags) == {"demo", "airflow-ml"}
    assert dag.max_active_runs == 1
    assert dag.get_task("train_model").retries == 2
    assert dag.get_task("notify").trigger_rule == "none_failed"
    assert "Retrain the tumour classifier" in dag.doc_md
    assert "sklearn.ensemble.RandomForestClassifier" in dag.doc_md


def test_config_error_task_fails_with_the_message(tmp_path, airflow_db):
    """The broken-config DAG's only task, run through dag.test(), fails with the error."""
    from airflow.dag_processing.dagbag import DagBag

    from airflow_ml_provider.cli.local_run import run_dag

    bag = DagBag(dag_folder=str(make_folder(tmp_path)))
    dag_run = run_dag(bag.get_dag("config_error__broken"))
    assert dag_run.state == "failed"


PARSE_PROBE = textwrap.dedent(
    """
    import runpy, sys, json
    namespace = runpy.run_path(sys.argv[1])
    heavy = ["great_expectations", "mlflow", "sklearn", "pandas", "kubernetes",
             "google.cloud.storage", "google.cloud.bigquery", "numpy", "skops"]
    dags = [k for k, v in namespace.items() if type(v).__name__ == "DAG"]
    print(json.dumps({"dags": dags, "loaded": [m for m in heavy if m in sys.modules]}))
    """
)


def test_parse_time_imports_nothing_heavy(tmp_path, airflow_db):
    """Parsing the loader (in a fresh interpreter) must not import the ML stack."""
    import json

    folder = make_folder(tmp_path)
    out = subprocess.run(
        [sys.executable, "-c", PARSE_PROBE, str(folder / "ml_pipelines.py")],
        check=True,
        capture_output=True,
        text=True,
    )
    result = json.loads(out.stdout.strip().splitlines()[-1])
    assert "breast_cancer_ct" in result["dags"]
    assert result["loaded"] == []


def test_files_that_crashed_the_loader_break_only_themselves(tmp_path, airflow_db):
    """A real DagBag over the good files plus every file that used to make the loader raise
    (and so cost the folder every DAG): the good DAGs stay, each crasher is its own
    config-error DAG with its position."""
    from airflow.dag_processing.dagbag import DagBag

    from helpers.hostile_yaml import CRASHERS

    folder = make_folder(tmp_path)
    for name, (text, _) in CRASHERS.items():
        (folder / "pipelines" / f"crash_{name}.yaml").write_text(text)
    bag = DagBag(dag_folder=str(folder))

    assert bag.import_errors == {}
    assert {"breast_cancer_ct", "other_ct"} <= set(bag.dag_ids)
    for name, (_, expected) in CRASHERS.items():
        broken = bag.get_dag(f"config_error__crash_{name}")
        assert broken is not None, name
        assert expected.split(": ", 1)[-1][:40] in broken.doc_md, name
