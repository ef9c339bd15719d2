"""The package as Airflow and a user's shell see it: provider registration and the CLI."""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from helpers.paths import EXAMPLE_YAML

BIN = Path(sys.executable).parent


def airflow_ml_run_as_user(cwd: Path, *args: str) -> subprocess.CompletedProcess:
    """The real `airflow-ml` command as a user's shell runs it: no AIRFLOW_* settings, so
    its scratch home is created under ``cwd``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("AIRFLOW")}
    return subprocess.run(
        [str(BIN / "airflow-ml"), *args], capture_output=True, text=True, cwd=cwd, env=env
    )


def test_airflow_providers_list_shows_this_provider(airflow_db):
    out = subprocess.run(
        [str(BIN / "airflow"), "providers", "list", "--output", "json"],
        check=True,
        capture_output=True,
        text=True,
        env=os.environ.copy(),
    )
    providers = {p["package_name"]: p for p in json.loads(out.stdout)}
    assert "airflow-ml-provider" in providers
    assert "apache-airflow-providers-cncf-kubernetes" in providers  # others still discovered


def test_mlflow_connection_type_is_registered(airflow_db):
    from airflow.sdk.providers_manager_runtime import ProvidersManagerTaskRuntime

    hooks = ProvidersManagerTaskRuntime().hooks
    assert hooks["mlflow"].hook_class_name == "airflow_ml_provider.hooks.mlflow.MlflowHook"


def test_the_connection_form_comes_from_the_provider_info(airflow_db):
    """What Airflow 3's UI asks for the connection form (HookMetaService, as the api-server
    serves it): Host relabelled Tracking URI, port and schema hidden, the extra fields
    tracking_uri and token (a password field) — declared in get_provider_info, with no
    get_ui_field_behaviour on the hook (deprecated since Airflow 3.2)."""
    from airflow.api_fastapi.core_api.services.ui.connections import HookMetaService

    from airflow_ml_provider.hooks.mlflow import MlflowHook

    assert "get_ui_field_behaviour" not in MlflowHook.__dict__
    (meta,) = [m for m in HookMetaService.hook_meta_data() if m.connection_type == "mlflow"]
    standard = meta.standard_fields
    assert standard.host.title == "Tracking URI"
    assert standard.port.hidden and standard.url_schema.hidden
    assert set(meta.extra_fields) == {"tracking_uri", "token"}
    assert meta.extra_fields["token"]["schema"]["format"] == "password"


def airflow_ml(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(BIN / "airflow-ml"), *args], capture_output=True, text=True, env=os.environ.copy()
    )


def test_check_accepts_the_example_and_rejects_a_bad_file(tmp_path):
    good = airflow_ml("check", str(EXAMPLE_YAML))
    assert good.returncode == 0, good.stdout + good.stderr
    assert "ok" in good.stdout

    bad = tmp_path / "bad.yaml"
    bad.write_text(
        EXAMPLE_YAML.read_text()
        .replace(
            "sklearn.ensemble.RandomForestClassifier", "sklearn.ensembel.RandomForestClassifier"
        )
        .replace("{n_estimators: 200, max_depth: 6, random_state: 7}", "{n_estimator: 5}")
    )
    result = airflow_ml("check", str(bad))
    assert result.returncode == 1
    assert (
        f"{bad}:22:14: training.estimator: 'sklearn.ensembel.RandomForestClassifier' cannot be "
        "imported; did you mean 'sklearn.ensemble.RandomForestClassifier'?" in result.stdout
    )


def test_check_reports_unknown_params_and_duplicate_ids_in_a_folder(tmp_path):
    (tmp_path / "a.yaml").write_text(EXAMPLE_YAML.read_text())
    (tmp_path / "b.yaml").write_text(
        EXAMPLE_YAML.read_text().replace("n_estimators: 200", "n_estimator: 200")
    )
    result = airflow_ml("check", str(tmp_path))
    assert result.returncode == 1
    assert "does not accept the parameter 'n_estimator'; did you mean 'n_estimators'?" in (
        result.stdout
    )
    assert "pipeline id 'breast_cancer_ct' is already used by" in result.stdout


def test_schema_is_json_schema_with_the_spec_fields():
    result = airflow_ml("schema")
    assert result.returncode == 0
    schema = json.loads(result.stdout)
    assert set(schema["required"]) == {"pipeline", "data", "training", "evaluation"}
    assert schema["additionalProperties"] is False
    assert "estimator" in schema["$defs"]["TrainingSpec"]["properties"]
    # what editors check: the example, and both forms of data.source, are valid
    import jsonschema
    import yaml

    example = yaml.safe_load(EXAMPLE_YAML.read_text())
    example["start_date"] = str(example["start_date"])  # a string to an editor
    jsonschema.validate(example, schema)
    sql = {"kind": "sql", "conn_id": "warehouse", "query": "SELECT 1"}
    jsonschema.validate({**example, "data": {**example["data"], "source": sql}}, schema)
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate({**example, "data": {**example["data"], "source": 7}}, schema)


def test_check_rejects_unknown_expectations_and_wrong_kwargs(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        EXAMPLE_YAML.read_text()
        .replace(
            "- expect_table_row_count_to_be_between:", "- expect_table_row_count_to_be_betwen:"
        )
        .replace("{column: mean radius}", "{colum: mean radius}")
    )
    result = airflow_ml("check", str(bad))
    assert result.returncode == 1
    assert (
        f"{bad}:18:7: validation.expectations[0].expect_table_row_count_to_be_betwen: unknown "
        "Great Expectations expectation 'expect_table_row_count_to_be_betwen'; did you mean "
        "'expect_table_row_count_to_be_between'?" in result.stdout
    )
    assert "column: field required; colum: extra fields not permitted" in result.stdout
    assert "Skipping registering" not in result.stdout + result.stderr


def test_run_refuses_an_invalid_file_before_creating_any_state(tmp_path):
    pipeline = tmp_path / "bad.yaml"
    pipeline.write_text(EXAMPLE_YAML.read_text().replace("retries: 2", "retries: two"))
    result = airflow_ml_run_as_user(tmp_path, "run", str(pipeline))
    assert result.returncode == 1
    assert f"{pipeline}:8:10: retries: expected an integer, got 'two'" in result.stderr
    assert not (tmp_path / ".airflow-ml" / "airflow.db").exists()


def test_schema_diff_names_what_changed_between_two_snapshots(tmp_path):
    import pandas as pd

    from helpers.paths import EXAMPLE_CSV

    old = pd.read_csv(EXAMPLE_CSV)
    new = old.rename(columns={"mean radius": "radius"}).assign(target=old["target"].astype(str))
    new.to_parquet(tmp_path / "new.parquet")
    changed = subprocess.run(
        [str(BIN / "airflow-ml"), "schema-diff", str(EXAMPLE_CSV), str(tmp_path / "new.parquet")],
        capture_output=True,
        text=True,
    )
    assert changed.returncode == 1, changed.stderr
    lines = changed.stdout.splitlines()
    assert lines[0].split(maxsplit=2)[:2] == ["missing_column", "mean"]
    assert "column 'mean radius' is missing (renamed to 'radius'?)" in lines[0]
    assert "column 'radius' is new" in lines[1]
    assert "column 'target' changed type from integer to string" in lines[2]
    assert "3 difference(s)" in changed.stderr

    same = subprocess.run(
        [str(BIN / "airflow-ml"), "schema-diff", str(EXAMPLE_CSV), str(EXAMPLE_CSV)],
        capture_output=True,
        text=True,
    )
    assert same.returncode == 0 and same.stdout == ""
    assert "no schema differences" in same.stderr

    missing = subprocess.run(
        [str(BIN / "airflow-ml"), "schema-diff", str(tmp_path / "nope.csv"), str(EXAMPLE_CSV)],
        capture_output=True,
        text=True,
    )
    assert missing.returncode == 2
    assert missing.stderr.startswith("error: ") and "nope.csv" in missing.stderr


def test_provider_metadata_lists_every_part_of_the_package(airflow_db):
    """What `airflow providers triggers|notifications|hooks|plugins` read (Airflow's
    ProvidersManager): ours are there, each listed module imports, every operator class of
    the package is in a listed operator module, and the config defaults are the code's."""
    import importlib
    import inspect

    from airflow.providers_manager import ProvidersManager
    from airflow.sdk import BaseOperator

    import airflow_ml_provider
    from airflow_ml_provider import settings
    from airflow_ml_provider.core.allow_lists import (
        DEFAULT_ENV_PREFIXES,
        DEFAULT_ESTIMATOR_PREFIXES,
        DEFAULT_TRANSFORMER_PREFIXES,
    )

    manager = ProvidersManager()
    ours = airflow_ml_provider.PACKAGE_NAME
    triggers = {t.trigger_class_name for t in manager.trigger if t.package_name == ours}
    assert triggers == {
        "airflow_ml_provider.triggers.data",
        "airflow_ml_provider.triggers.drift",
        "airflow_ml_provider.triggers.canary",
    }
    assert {
        "airflow_ml_provider.notifications.notifier.TaskAlertNotifier",
        "airflow_ml_provider.notifications.notifier.ConfiguredNotifier",
    } <= set(manager.notification)
    assert manager.hooks["mlflow"].package_name == ours
    assert any(p.plugin_class.endswith("MlPipelinesPlugin") for p in manager.plugins)

    info = airflow_ml_provider.get_provider_info()
    modules = [m for kind in ("operators", "sensors", "hooks", "triggers") for entry in info[kind]
               for m in entry["python-modules"]]  # fmt: skip
    listed_operators = set()
    for name in modules:
        module = importlib.import_module(name)
        listed_operators |= {
            cls for _, cls in inspect.getmembers(module, inspect.isclass)
            if issubclass(cls, BaseOperator) and cls.__module__ == name
        }  # fmt: skip
    every_operator = {
        cls for name in airflow_ml_provider.OPERATOR_MODULES
        for _, cls in inspect.getmembers(importlib.import_module(name), inspect.isclass)
        if issubclass(cls, BaseOperator) and cls.__module__.startswith("airflow_ml_provider.")
    }  # fmt: skip
    assert every_operator <= listed_operators
    package_dir = Path(airflow_ml_provider.__file__).parent
    operator_files = {p.stem for p in (package_dir / "operators").glob("*.py")}
    defining = {
        f
        for f in operator_files
        if "Operator(" in (package_dir / "operators" / f"{f}.py").read_text()
    }
    assert {f"airflow_ml_provider.operators.{f}" for f in defining} <= set(modules)

    options = info["config"]["ml_provider"]["options"]
    assert options["allowed_estimator_modules"]["default"] == ",".join(DEFAULT_ESTIMATOR_PREFIXES)
    assert options["allowed_transformer_modules"]["default"] == ",".join(
        DEFAULT_TRANSFORMER_PREFIXES
    )
    assert options["allowed_env_prefixes"]["default"] == ",".join(DEFAULT_ENV_PREFIXES)
    source = inspect.getsource(settings)
    read = set(re.findall(r'_conf_get\(\s*"(\w+)"|_listed\(\s*"(\w+)"', source))
    assert {name for pair in read for name in pair if name} <= set(options)


def test_every_error_of_the_package_derives_from_one_base():
    """`except AirflowMlError` catches every error class the package defines."""
    import importlib
    import inspect
    import pkgutil

    import airflow_ml_provider
    from airflow_ml_provider.core.errors import AirflowMlError

    errors = []
    for module_info in pkgutil.walk_packages(airflow_ml_provider.__path__, "airflow_ml_provider."):
        module = importlib.import_module(module_info.name)
        errors += [
            cls
            for name, cls in inspect.getmembers(module, inspect.isclass)
            if issubclass(cls, Exception)
            and cls.__module__ == module.__name__
            and not name.startswith("_")
        ]
    assert len(errors) >= 15
    assert [cls.__name__ for cls in errors if not issubclass(cls, AirflowMlError)] == []


def test_check_refuses_kserve_over_local_model_files(tmp_path, airflow_db, monkeypatch, capsys):
    """strategy kserve with the embedded MLflow store (local artifacts KServe cannot
    download) is refused by `airflow-ml check` at the strategy's line; with a tracking
    server connection it passes (its artifact store is checked at deploy time)."""
    import shutil

    from airflow_ml_provider.cli import main

    pipeline = tmp_path / "kserve.yaml"
    pipeline.write_text(
        EXAMPLE_YAML.read_text().replace("strategy: alias", "strategy: kserve\n  kserve: {}")
    )
    (tmp_path / "data").mkdir()
    shutil.copy(EXAMPLE_YAML.parent / "data" / "breast_cancer.csv", tmp_path / "data")
    monkeypatch.delenv("AIRFLOW_CONN_MLFLOW_DEFAULT", raising=False)
    assert main(["check", str(pipeline)]) == 1
    out = capsys.readouterr().out
    assert f"{pipeline}:34:13: deployment.strategy: strategy kserve serves models from the " in out
    assert "the embedded store keeps them in file://" in out

    monkeypatch.setenv("AIRFLOW_CONN_MLFLOW_DEFAULT", "mlflow://mlflow.ml.svc:5000")
    assert main(["check", str(pipeline)]) == 0, capsys.readouterr().out


def test_check_refuses_a_candidate_search_on_a_parameter_it_does_not_take(tmp_path, capsys):
    """A candidate's search space naming a parameter its estimator does not have is an error
    at that parameter's line, with the closest real name."""
    import shutil

    from airflow_ml_provider.cli import main

    text = EXAMPLE_YAML.read_text()
    start, end = text.index("training:\n"), text.index("evaluation:\n")
    candidates = (
        "training:\n  candidates:\n    - name: forest\n"
        "      estimator: sklearn.ensemble.RandomForestClassifier\n"
        "      search: {method: grid, params: {max_dept: [3, 6]}}\n"
    )
    pipeline = tmp_path / "candidates.yaml"
    pipeline.write_text(text[:start] + candidates + text[end:])
    (tmp_path / "data").mkdir()
    shutil.copy(EXAMPLE_YAML.parent / "data" / "breast_cancer.csv", tmp_path / "data")
    assert main(["check", "--fast", str(pipeline)]) == 0  # the file itself is valid YAML
    capsys.readouterr()
    assert main(["check", str(pipeline)]) == 1
    out = capsys.readouterr().out
    assert (
        f"{pipeline}:25:39: training.candidates[0].search.params.max_dept: "
        "sklearn.ensemble.RandomForestClassifier does not accept the search parameter "
        "'max_dept'; did you mean 'max_depth'?"
    ) in out


def test_run_reports_a_missing_data_file_at_its_line_before_airflow_starts(tmp_path):
    """No data file and no data.wait: the run could only fail at snapshot_data, so it is
    refused at the source's line before the heavy checks and before any Airflow state."""
    pipeline = tmp_path / "no_data.yaml"
    pipeline.write_text(EXAMPLE_YAML.read_text())
    result = airflow_ml_run_as_user(tmp_path, "run", "--json", str(pipeline))
    assert result.returncode == 1
    expected = (
        f"{pipeline}:11:11: data.source: {tmp_path / 'data' / 'breast_cancer.csv'} matches no "
        "file; the run would fail at snapshot_data (set data.wait to wait for the data instead)"
    )
    assert expected in result.stderr
    summary = json.loads(result.stdout)
    assert summary["state"] == "not started" and expected in summary["error"]["message"]
    assert not (tmp_path / ".airflow-ml" / "airflow.db").exists()


def test_every_reporting_command_has_json_and_the_shell_completes_them(tmp_path):
    """`--json` on each command that reports; argcomplete answers the shell's completion
    request (what `eval "$(register-python-argcomplete airflow-ml)"` wires into bash)."""
    from airflow_ml_provider.cli import build_parser

    parser = build_parser()
    (commands,) = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    reporting = {"check", "schema-diff", "run", "demo", "reproduce", "history", "rollback"}
    assert reporting | {"schema", "up"} == set(commands.choices)  # schema prints JSON anyway
    for name in reporting:
        flags = {f for action in commands.choices[name]._actions for f in action.option_strings}
        assert "--json" in flags, name

    def complete(line: str) -> set[str]:
        answer = tmp_path / "completion.txt"
        env = {
            **os.environ,
            "_ARGCOMPLETE": "1",
            "_ARGCOMPLETE_IFS": "\n",
            "_ARGCOMPLETE_STDOUT_FILENAME": str(answer),
            "COMP_LINE": line,
            "COMP_POINT": str(len(line)),
        }
        subprocess.run([str(BIN / "airflow-ml")], env=env, check=True, timeout=120)
        return set(answer.read_text().split("\n"))

    assert complete("airflow-ml r") == {"run", "reproduce", "rollback"}
    assert {"--to", "--json", "--pipeline"} <= complete("airflow-ml rollback --")
    script = subprocess.run(
        [str(BIN / "register-python-argcomplete"), "airflow-ml"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert "complete " in script and "airflow-ml" in script


def test_demo_json_prints_both_runs_in_a_scratch_home(tmp_path):
    """`airflow-ml demo --json` as a user runs it: the example written and run twice in a
    fresh AIRFLOW_HOME (DB created on the fly); stdout one JSON list, a full run summary each.
    (`airflow-ml run --json`'s one object: test_examples.)"""
    result = airflow_ml_run_as_user(tmp_path, "demo", "--json", "--dir", "demo")
    assert result.returncode == 0, result.stderr[-3000:]
    first, second = json.loads(result.stdout)
    assert (first["state"], second["state"]) == ("success", "success")
    assert first["promoted"] is True
    assert first["model"]["aliases"]["champion"] == first["model"]["version"] == 1
    assert second["promoted"] is False  # same data and configuration: nothing new to train
    assert "Next:" in result.stderr and "mlflow ui" in result.stderr

    validation = first["validation"]
    assert (validation["success"], validation["rows"], validation["failed_expectations"]) == (
        True,
        569,
        [],
    )
    assert validation["guards"] == validation["schema_findings"] == validation["warnings"] == []
    assert validation["drift"] is None  # first run: no champion to compare with
    assert Path(validation["data_docs_uri"].removeprefix("file://")).is_file()
    assert set(first["metrics"]["challenger"]) == {"roc_auc", "f1", "accuracy"}
    assert (tmp_path / ".airflow-ml" / "airflow.db").exists()  # never the user's ~/airflow
    assert (tmp_path / ".airflow-ml" / "mlflow.db").exists()
    assert first["error"] is None
    logs = [Path(run["log_file"]) for run in (first, second)]  # a log file per run
    assert logs[0] != logs[1]
    for log, run in zip(logs, (first, second), strict=True):
        assert log.parent == tmp_path / ".airflow-ml" / "logs" / "runs"
        assert log.name.startswith("breast_cancer-")  # the demo's file, demo/breast_cancer.yaml
        assert run["run_id"] in log.read_text()
