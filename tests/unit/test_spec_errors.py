"""Bad pipeline files get errors naming file:line:column, the field and what was expected."""

from __future__ import annotations

import pytest

from airflow_ml_provider.pipeline_spec import load_pipeline
from airflow_ml_provider.pipeline_spec.options import LoaderOptions
from helpers.spec_files import GOOD, errors_of, write


def test_good_file_loads_with_resolved_source_and_inferred_values(tmp_path):
    loaded = load_pipeline(write(tmp_path, GOOD))
    assert loaded.spec.pipeline == "churn_ct"
    assert loaded.source_uri == (tmp_path / "data" / "churn.csv").as_uri()
    assert loaded.spec.data.resolved_format == "csv"
    assert loaded.spec.training.task_type == "classification"
    assert loaded.spec.retry_delay.total_seconds() == 300
    assert len(loaded.config_hash) == 16


BAD_CASES = {
    "unknown key with did-you-mean": (
        ("  estimator: sklearn", "  estimatr: sklearn"),
        ":16:3: training.estimatr: unknown key 'estimatr'; did you mean 'estimator'?",
    ),
    "unknown top-level key": (
        ("owner: ml-platform", "ownr: ml-platform"),
        ":3:1: ownr: unknown key 'ownr'; did you mean 'owner'?",
    ),
    "wrong type": (
        ("retries: 2", "retries: many"),
        ":6:10: retries: expected an integer, got 'many'",
    ),
    "missing required field": (
        ("  target: churned\n", ""),
        ":8:1: data.target: missing required field 'target'",
    ),
    "bad cron": (
        ('schedule: "@daily"', 'schedule: "61 * * * *"'),
        ":4:11: schedule: '61 * * * *' is not a valid cron expression",
    ),
    "unknown preset": (
        ('schedule: "@daily"', 'schedule: "@dayly"'),
        ":4:11: schedule: unknown preset '@dayly'",
    ),
    "bad duration": (
        ("retry_delay: 5m", "retry_delay: 5 minutes"),
        ":7:14: retry_delay: '5 minutes' is not a duration",
    ),
    "unknown metric": (
        ("metrics: [roc_auc, f1]", "metrics: [roc_auc, acuracy]"),
        ":20:22: evaluation.metrics[1]: unknown metric 'acuracy'; did you mean 'accuracy'?",
    ),
    "metric does not fit the task type": (
        ("metrics: [roc_auc, f1]", "metrics: [roc_auc, rmse]"),
        ":20:22: evaluation.metrics[1]: 'rmse' is a regression metric but "
        "sklearn.ensemble.RandomForestClassifier is a classification estimator",
    ),
    "disallowed estimator module": (
        ("sklearn.ensemble.RandomForestClassifier", "os.system"),
        ":16:14: training.estimator: 'os.system' is not in an allowed module",
    ),
    "a list where a mapping belongs": (
        ("  split: {test_size: 0.25, seed: 7, stratify: true}", "  split: [0.25, 7]"),
        ":11:10: data.split: expected a mapping, got a list",
    ),
    "bad data format": (
        ("  target: churned", "  target: churned\n  format: excel"),
        ":11:11: data.format: got 'excel'; input should be 'csv' or 'parquet'",
    ),
    "negative test_size": (
        ("test_size: 0.25", "test_size: -0.2"),
        ":11:22: data.split.test_size: input should be greater than or equal to 0.001 (got -0.2)",
    ),
    "threshold on a metric not computed": (
        ("thresholds: {roc_auc: 0.8}", "thresholds: {accuracy: 0.8}"),
        ":21:26: evaluation.thresholds.accuracy: 'accuracy' is not computed",
    ),
    "format cannot be inferred": (
        ("source: data/churn.csv", "source: data/churn.xlsx"),
        ":9:11: data.source: cannot infer the format of 'data/churn.xlsx'",
    ),
    "task type cannot be inferred": (
        ("sklearn.ensemble.RandomForestClassifier", "sklearn.pipeline.Pipeline"),
        ":16:14: training.estimator: cannot tell whether 'sklearn.pipeline.Pipeline' is a "
        "classifier or a regressor; set training.task",
    ),
    "bad e-mail address": (
        ("[oncall@example.com]", "[oncall-at-example]"),
        ":25:10: alerts.email: 'oncall-at-example' is not an e-mail address",
    ),
    "schedule without start_date": (
        ("start_date: 2026-01-01\n", ""),
        ":4:11: schedule: start_date is required with a cron schedule",
    ),
    "not an expectation name": (
        ("expect_column_values_to_not_be_null", "column_values_not_null"),
        ":14:5: validation.expectations: item 0: 'column_values_not_null' is not an "
        "expectation name",
    ),
    "duplicate key": (
        ("owner: ml-platform", "owner: ml-platform\nowner: other"),
        ":4:1: owner: this key appears twice in one mapping",
    ),
    "target listed as a feature": (
        ("  target: churned", "  target: churned\n  features: [age, churned]"),
        ":11:19: data.features[1]: the target 'churned' cannot be a feature",
    ),
    "invalid pipeline id": (
        ("pipeline: churn_ct", "pipeline: churn ct!"),
        ":1:11: pipeline: string should match pattern",
    ),
}


@pytest.mark.parametrize("case", sorted(BAD_CASES), ids=sorted(BAD_CASES))
def test_bad_input_names_file_line_column_and_expectation(tmp_path, case):
    (old, new), expected = BAD_CASES[case]
    assert old in GOOD, "the test case must change the good file"
    path = write(tmp_path, GOOD.replace(old, new, 1))
    message = errors_of(path)
    assert f"{path}{expected}" in message, message


def test_empty_file(tmp_path):
    path = write(tmp_path, "")
    assert (
        errors_of(path) == f"{path}:1:1: the file is empty; expected a mapping with at least "
        "pipeline, data, training and evaluation"
    )


def test_top_level_list(tmp_path):
    path = write(tmp_path, "- pipeline: x\n")
    assert f"{path}:1:1: got a list; expected a mapping" in errors_of(path)


def test_yaml_syntax_error_keeps_the_file_name(tmp_path):
    path = write(tmp_path, GOOD.replace("metrics: [roc_auc, f1]", "metrics: [roc_auc, f1"))
    message = errors_of(path)
    assert message.startswith(f"{path}:"), message
    assert "invalid YAML" in message


def test_every_problem_is_reported_at_once(tmp_path):
    text = GOOD.replace("retries: 2", "retries: -1").replace("owner: ml-platform", "ownr: x")
    message = errors_of(write(tmp_path, text))
    assert "retries: input should be greater than or equal to 0" in message
    assert "unknown key 'ownr'" in message


def test_defaults_file_supplies_values_and_pipeline_wins(tmp_path):
    (tmp_path / "defaults.yaml").write_text(
        "owner: platform\nretries: 5\nalerts: {email: [team@example.com]}\n"
        "registry: {mlflow_conn_id: mlflow_prod}\n"
    )
    text = GOOD.replace("owner: ml-platform\n", "").replace("retries: 2\n", "retries: 1\n")
    spec = load_pipeline(write(tmp_path, text)).spec
    assert spec.owner == "platform"
    assert spec.retries == 1
    assert spec.alerts.email == ["oncall@example.com"]
    assert spec.registry.mlflow_conn_id == "mlflow_prod"
    assert spec.registry.model_name == "churn"


def test_error_in_defaults_file_points_at_defaults_file(tmp_path):
    defaults = tmp_path / "defaults.yaml"
    defaults.write_text("owner: platform\nretries: lots\n")
    message = errors_of(write(tmp_path, GOOD.replace("retries: 2\n", "")))
    assert f"{defaults}:2:10: retries: expected an integer, got 'lots'" in message


def test_environment_variables_are_expanded(tmp_path, monkeypatch):
    monkeypatch.setenv("AIRFLOW_ML_CHURN_BUCKET", "gs://ml-data")
    text = GOOD.replace("data/churn.csv", "${AIRFLOW_ML_CHURN_BUCKET}/churn.csv")
    loaded = load_pipeline(write(tmp_path, text))
    assert loaded.source_uri == "gs://ml-data/churn.csv"


def test_unset_environment_variable_is_an_error_with_position(tmp_path, monkeypatch):
    monkeypatch.delenv("AIRFLOW_ML_NOT_SET", raising=False)
    path = write(tmp_path, GOOD.replace("data/churn.csv", "${AIRFLOW_ML_NOT_SET}/churn.csv"))
    assert (
        f"{path}:9:11: data.source: environment variable ${{AIRFLOW_ML_NOT_SET}} is not set"
        in errors_of(path)
    )


def test_other_environment_variables_are_out_of_reach(tmp_path, monkeypatch):
    """Airflow's own secrets live in the DAG processor's environment: a YAML author can
    neither read them nor learn whether they are set; free text is never expanded."""
    monkeypatch.setenv("AIRFLOW__SMTP__SMTP_PASSWORD", "hunter2")
    monkeypatch.delenv("AWS_SECRET_ACCESS_KEY", raising=False)
    answers = []
    for name in ("AIRFLOW__SMTP__SMTP_PASSWORD", "AWS_SECRET_ACCESS_KEY"):
        path = write(tmp_path, GOOD.replace("data/churn.csv", f"${{{name}}}/churn.csv"))
        message = errors_of(path)
        assert "hunter2" not in message
        answers.append(message.replace(name, "NAME"))
    assert answers[0] == answers[1]  # set or not: the same refusal
    assert "only names starting with AIRFLOW_ML_ are expanded" in answers[0]

    described = GOOD.replace(
        "description: Retrain churn.", "description: 'pw ${AIRFLOW__SMTP__SMTP_PASSWORD}'"
    )
    loaded = load_pipeline(write(tmp_path, described))
    assert loaded.spec.description == "pw ${AIRFLOW__SMTP__SMTP_PASSWORD}"


def test_allow_list_is_configurable(tmp_path):
    path = write(
        tmp_path,
        GOOD.replace("sklearn.ensemble.RandomForestClassifier", "mycorp.models.BoostClassifier"),
    )
    assert "not in an allowed module" in errors_of(path)
    loaded = load_pipeline(
        path, LoaderOptions.from_config(estimator_modules=("sklearn.", "mycorp.models."))
    )
    assert loaded.spec.training.estimator == "mycorp.models.BoostClassifier"


def test_the_shipped_json_schema_is_the_one_the_models_generate():
    """pipeline.schema.json (what editors validate against) never lags the models: regenerate
    it with `airflow-ml schema > pipeline.schema.json`."""
    import json

    from airflow_ml_provider.pipeline_spec.json_schema import json_schema
    from helpers.paths import REPO

    shipped = json.loads((REPO / "pipeline.schema.json").read_text())
    assert shipped == json.loads(json.dumps(json_schema())), (
        "run: airflow-ml schema > pipeline.schema.json"
    )


def test_jinja_in_yaml_values_is_refused_outside_notifier_kwargs(tmp_path):
    """A template in a source path would render with the task's context at run time (which
    reaches connections): refused where it is written; notifier kwargs stay templates."""
    probe = "data/{{ conn.secret_conn.password }}.csv"
    path = write(tmp_path, GOOD.replace("data/churn.csv", probe))
    message = errors_of(path)
    assert f"{path}:9:11: data.source: Jinja templates" in message
    assert "are not allowed here" in message

    notifier = GOOD.replace(
        "alerts:\n",
        "alerts:\n  notifiers:\n"
        "    - class: airflow.providers.smtp.notifications.smtp.SmtpNotifier\n"
        "      kwargs: {to: a@example.com, subject: '{{ ti.task_id }} failed'}\n",
    )
    loaded = load_pipeline(write(tmp_path, notifier))
    assert loaded.spec.alerts.notifiers[0].kwargs["subject"] == "{{ ti.task_id }} failed"


@pytest.mark.parametrize(
    ("field", "old", "new", "where"),
    [
        ("data.source", "data/churn.csv", "/etc/passwd", ":9:11"),
        ("data.source", "data/churn.csv", "../../../../../../etc/*.conf", ":9:11"),
        ("data.source", "data/churn.csv", "file:///etc/shadow", ":9:11"),
        ("data.source", "data/churn.csv", "~/.ssh/id_rsa", ":9:11"),
    ],
)
def test_local_files_outside_the_allowed_roots_are_refused(tmp_path, field, old, new, where):
    path = write(tmp_path, GOOD.replace(old, f"{new}\n  format: csv"))
    message = errors_of(path)
    assert f"{path}{where}: {field}: local files must be inside the pipeline's folder" in message
    assert "root:" not in message  # nothing of the file is read or quoted


def test_a_symlink_out_of_the_pipeline_folder_is_refused(tmp_path):
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "churn.csv").symlink_to("/etc/passwd")
    assert "local files must be inside" in errors_of(write(tmp_path, GOOD))


def test_pod_template_and_schema_files_are_held_to_the_roots(tmp_path):
    text = GOOD.replace("validation:\n", "validation:\n  schema: /etc/passwd\n", 1)
    if "validation:\n" not in GOOD:
        text = GOOD + "validation:\n  schema: /etc/passwd\n"
    message = errors_of(write(tmp_path, text))
    assert "validation.schema: local files must be inside" in message


@pytest.mark.parametrize(
    ("threshold", "message"),
    [
        ("roc_auc: 7", "roc_auc ranges from 0.0 to 1.0: a floor of 7.0 can never be met"),
        ("log_loss: -0.1", "log_loss ranges from 0.0 to inf: a ceiling of -0.1 can never be met"),
    ],
)
def test_a_threshold_no_model_can_meet_is_refused(tmp_path, threshold, message):
    text = GOOD.replace("thresholds: {roc_auc: 0.8}", f"thresholds: {{{threshold}}}")
    text = text.replace("metrics: [roc_auc, f1]", "metrics: [roc_auc, f1, log_loss]")
    assert message in errors_of(write(tmp_path, text))
