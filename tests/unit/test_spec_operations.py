"""The YAML contract of run policy and alerts: retries, backoff, time limits and per-step
overrides reach the DAG's tasks; alerts.on picks the callbacks; bad input is refused at
file:line:column."""

from __future__ import annotations

import datetime as dt

import pytest

from airflow_ml_provider.pipeline_spec import load_pipeline
from helpers.spec_files import GOOD, errors_of, write

POLICY = """\
retries: 3
retry_delay: 1m
retry_exponential_backoff: 2
max_retry_delay: 30m
execution_timeout: 2h
max_active_runs: 1
dagrun_timeout: 6h
steps:
  train_model: {retries: 5, execution_timeout: 4h}
  validate_data: {retries: 1}
"""


def with_policy(text: str, alerts: str = "") -> str:
    policy = GOOD.replace("retries: 2\nretry_delay: 5m\n", text)
    return policy.replace(
        "  email: [oncall@example.com]\n", "  email: [oncall@example.com]\n" + alerts
    )


def test_the_run_policy_reaches_every_task_and_steps_override_it(tmp_path):
    from airflow_ml_provider.factory.builder import build_dag

    dag = build_dag(load_pipeline(write(tmp_path, with_policy(POLICY))))
    assert dag.max_active_runs == 1 and dag.catchup is False
    assert dag.dagrun_timeout == dt.timedelta(hours=6)
    evaluate = dag.get_task("evaluate_model")
    assert (evaluate.retries, evaluate.retry_delay) == (3, dt.timedelta(minutes=1))
    assert evaluate.retry_exponential_backoff == 2
    assert evaluate.max_retry_delay == dt.timedelta(minutes=30)
    assert evaluate.execution_timeout == dt.timedelta(hours=2)
    train = dag.get_task("train_model")
    assert (train.retries, train.execution_timeout) == (5, dt.timedelta(hours=4))
    assert dag.get_task("validate_data").retries == 1  # 0 unless the YAML says otherwise


def test_alerts_on_picks_the_task_callbacks(tmp_path):
    from airflow_ml_provider.factory.builder import build_dag
    from airflow_ml_provider.notifications.failure import record_failure
    from airflow_ml_provider.notifications.notifier import TaskAlertNotifier

    text = with_policy("retries: 1\n", "  on: [retry, promotion]\n")
    loaded = load_pipeline(write(tmp_path, text))
    assert loaded.spec.alerts.on == ["retry", "promotion"]
    task = build_dag(loaded).get_task("snapshot_data")
    (retry,) = task.on_retry_callback
    assert isinstance(retry, TaskAlertNotifier) and retry.event == "retry"
    assert retry.to == ["oncall@example.com"]
    assert task.on_failure_callback == [record_failure]  # recorded, not mailed
    default = build_dag(load_pipeline(write(tmp_path, GOOD, name="default.yaml")))
    record, mail = default.get_task("train_model").on_failure_callback
    assert record is record_failure and mail.event == "failure"
    assert not default.get_task("train_model").on_retry_callback


BAD = {
    "a step this pipeline does not have": (
        with_policy("steps:\n  score_batch: {retries: 2}\n"),
        ":7:16: steps.score_batch: this pipeline has no score_batch step (its steps: "
        "snapshot_data, validate_data, check_changes, train_model, evaluate_model, register_model, "
        "deploy_model, notify)",
    ),
    "a step name nobody has": (
        with_policy("steps:\n  train: {retries: 2}\n"),
        ":7:3: steps.train: unknown key 'train'; did you mean 'train_model'?",
    ),
    "an alert event that does not exist": (
        with_policy("retries: 1\n", "  on: [failure, outage]\n"),
        ":25:17: alerts.on[1]: got 'outage'; input should be 'failure', 'retry', 'promotion', "
        "'validation_warning', 'drift', 'summary' or 'stalled'",
    ),
    "a negative retry count": (
        with_policy("retries: 1\nsteps:\n  train_model: {retries: -1}\n"),
        ":8:26: steps.train_model.retries: input should be greater than or equal to 0",
    ),
}


@pytest.mark.parametrize("case", sorted(BAD))
def test_bad_operations_config_is_refused(tmp_path, case):
    text, expected = BAD[case]
    path = write(tmp_path, text)
    message = errors_of(path)
    assert expected in message, message
    assert str(path) in message


def test_a_notifier_outside_the_allowed_modules_is_refused(tmp_path):
    text = with_policy(
        "retries: 1\n", "  notifiers:\n    - {class: os.system, kwargs: {command: ls}}\n"
    )
    message = errors_of(write(tmp_path, text))
    assert ":26:15: alerts.notifiers[0].class: 'os.system' is not in an allowed module; " in (
        message
    )
    assert "allowed packages are airflow.providers" in message


def test_a_notifier_that_does_not_exist_is_found_by_the_deep_check(tmp_path):
    from airflow_ml_provider.checks.deep_checks import notifier_problems
    from airflow_ml_provider.pipeline_spec.positions import load_positioned

    text = with_policy(
        "retries: 1\n",
        "  notifiers:\n    - {class: airflow.providers.smtp.notifications.smtp.Nope}\n"
        "    - {class: airflow.providers.smtp.notifications.smtp.SmtpNotifier, kwargs: {}}\n",
    )
    path = write(tmp_path, text)
    loaded = load_pipeline(path)
    problems = [str(p) for p in notifier_problems(loaded, load_positioned(path))]
    assert len(problems) == 2
    assert ":26:15: alerts.notifiers[0].class: cannot use " in problems[0]
    assert "no class 'Nope'" in problems[0]
    assert "alerts.notifiers[1].kwargs: airflow.providers.smtp.notifications.smtp." in problems[1]
    assert "rejected its kwargs" in problems[1]


@pytest.mark.parametrize(
    ("monitoring", "expected"),
    [
        (
            "{source: r.csv, mode: watcher, labels: {source: l.csv, join_on: id}}",
            "monitoring.labels: labels need mode dag (the watcher checks drift only)",
        ),
        (
            "{source: r.csv, mode: watcher, schedule: '@hourly'}",
            "monitoring.schedule: schedule applies to mode dag",
        ),
        (
            "{source: r.csv, poll_interval: 1m}",
            "monitoring.poll_interval: poll_interval applies to mode watcher",
        ),
    ],
    ids=["labels with a watcher", "schedule with a watcher", "poll_interval with a dag"],
)
def test_monitoring_settings_of_the_other_mode_are_refused(tmp_path, monitoring, expected):
    text = GOOD.replace("alerts:\n", f"monitoring: {monitoring}\nalerts:\n")
    message = errors_of(write(tmp_path, text))
    assert expected in message, message


@pytest.mark.parametrize(
    ("alerts", "expected"),
    [
        (
            "  on: [failure, stalled]\n",
            "alerts.on: stalled needs alerts.deadline, e.g. deadline: 3h",
        ),
        ("  deadline: 3h\n", "alerts.deadline: a deadline mails only with stalled in alerts.on"),
    ],
    ids=["stalled without a deadline", "a deadline without stalled"],
)
def test_stalled_and_deadline_go_together(tmp_path, alerts, expected):
    message = errors_of(write(tmp_path, with_policy("retries: 1\n", alerts)))
    assert expected in message, message


def test_a_deadline_becomes_the_dags_deadline_alert(tmp_path):
    from airflow_ml_provider.factory.builder import build_dag

    text = with_policy("retries: 1\n", "  on: [failure, stalled]\n  deadline: 3h\n")
    (alert,) = build_dag(load_pipeline(write(tmp_path, text))).deadline
    assert alert.interval == dt.timedelta(hours=3)
    assert alert.callback.path == "airflow_ml_provider.notifications.deadline.send_stalled_mail"
    assert alert.callback.kwargs["to"] == ["oncall@example.com"]


def test_the_demo_has_a_pipeline_and_model_of_its_own(tmp_path):
    """`airflow-ml demo` writes the example pipeline, but under its own DAG id and model name:
    a demo run must never train into the DAGs folder example's DAG or registered model."""
    from airflow_ml_provider.cli.demo import DEMO_YAML
    from airflow_ml_provider.pipeline_spec import load_pipeline
    from helpers.paths import EXAMPLE_YAML

    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "breast_cancer.csv").write_text("target\n1\n")
    demo = tmp_path / "demo.yaml"
    demo.write_text(DEMO_YAML)
    ours, example = load_pipeline(demo), load_pipeline(EXAMPLE_YAML)
    assert ours.dag_id != example.dag_id
    assert ours.spec.model_name != example.spec.model_name
