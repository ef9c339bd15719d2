"""Alert e-mails through a real SMTP server (aiosmtpd on 127.0.0.1) from pipelines run with
dag.test() and their YAML retry policy (real Airflow, MLflow, GX, scikit-learn)."""

from __future__ import annotations

import re
import shutil
import threading
import time

from helpers.paths import EXAMPLE_CSV
from helpers.pipelines import edit, mail_parts, write_pipeline


def run_with_retries(path):
    """build_dag + dag.test() keeping the YAML's retries (airflow-ml run switches them off)."""
    from airflow_ml_provider.cli.airflow_compat import serialize_dag
    from airflow_ml_provider.factory.builder import build_dag
    from airflow_ml_provider.pipeline_spec.loader import load_pipeline

    dag = build_dag(load_pipeline(path))
    serialize_dag(dag)
    return dag.test()


def alerting_pipeline(tmp_path, name: str, policy: str, on: str):
    path = write_pipeline(tmp_path, name, smtp_conn_id="smtp_test", mail_on=on)
    edit(path, "retries: 2\nretry_delay: 5m\n", policy)
    return path


def test_a_step_that_fails_once_sends_a_retry_mail_then_the_run_succeeds(
    tmp_path, airflow_db, smtp_server
):
    """The data file appears only after the retry mail arrived: snapshot_data fails on try
    1 of 2, the retry mail says so and when the next try is, try 2 succeeds and the run
    ends with the promotion mail."""
    path = alerting_pipeline(
        tmp_path, "alert_retry", "retries: 1\nretry_delay: 2s\n", "[failure, retry, promotion]"
    )
    data = tmp_path / "data" / EXAMPLE_CSV.name
    data.unlink()

    def deliver_after_the_retry_mail() -> None:
        deadline = time.monotonic() + 120
        while not smtp_server.messages and time.monotonic() < deadline:
            time.sleep(0.1)
        shutil.copy(EXAMPLE_CSV, data)

    threading.Thread(target=deliver_after_the_retry_mail, daemon=True).start()
    dag_run = run_with_retries(path)
    assert dag_run.state == "success"

    retry, promotion = smtp_server.messages
    assert retry["Subject"].startswith("[airflow-ml] retry 1/2 alert_retry.snapshot_data: ")
    html, text = mail_parts(retry)
    assert "failed on try 1 of 2 and will be retried in 2 s (at " in text
    assert "breast_cancer.csv" in text  # the error names the missing file
    assert f"/dags/alert_retry/runs/{dag_run.run_id}" in text.replace("%3A", ":").replace(
        "%2B", "+"
    )
    assert promotion["Subject"] == (
        "[airflow-ml] alert_retry: version 1 of alert_retry_model is the new champion"
    )


def test_a_failure_mail_names_the_task_the_try_the_error_and_the_log(
    tmp_path, airflow_db, smtp_server, monkeypatch
):
    """No data and no retries: snapshot_data fails for good. One mail (failure), with the
    task, 'try 1 of 1', the error in one line, the traceback's last lines and the link to
    the task's log built from [api] base_url. Nothing else is mailed."""
    monkeypatch.setenv("AIRFLOW__API__BASE_URL", "https://airflow.example.com")
    path = alerting_pipeline(tmp_path, "alert_fail", "retries: 0\n", "[failure, promotion]")
    (tmp_path / "data" / EXAMPLE_CSV.name).unlink()
    dag_run = run_with_retries(path)
    assert dag_run.state == "failed"

    (mail,) = smtp_server.messages
    assert mail["Subject"].startswith("[airflow-ml] FAILED alert_fail.snapshot_data: ")
    html, text = mail_parts(mail)
    facts = dict(re.findall(r"^(\w+): (.*)$", text, flags=re.MULTILINE))
    assert facts["Pipeline"] == "alert_fail"
    assert facts["Task"] == "snapshot_data"
    assert facts["Try"] == "1 of 1 (no retries left)"
    assert "breast_cancer.csv" in facts["Error"]
    assert facts["Log"].startswith("https://airflow.example.com/dags/alert_fail/runs/") and facts[
        "Log"
    ].endswith("/tasks/snapshot_data?try_number=1")
    trace = text.split("Last lines of the error:\n")[1].splitlines()
    assert 2 <= len(trace) <= 15 and 'File "' in trace[0] + trace[1]
    assert trace[-1].startswith("airflow_ml_provider.hooks.data.DataSourceError: data source")
    assert f'href="{facts["Log"]}"' in html


def test_a_notifier_named_in_yaml_is_called_on_failure(tmp_path, airflow_db, smtp_server):
    """alerts.notifiers: any Airflow notifier class (here the SMTP provider's own, to show
    the templates render with the task's context) gets the failure too."""
    path = alerting_pipeline(tmp_path, "alert_other", "retries: 0\n", "[failure]")
    edit(
        path,
        "  on: [failure]\n",
        "  on: [failure]\n  notifiers:\n"
        "    - class: airflow.providers.smtp.notifications.smtp.SmtpNotifier\n"
        "      kwargs:\n"
        "        to: pager@example.com\n"
        "        smtp_conn_id: smtp_test\n"
        "        subject: 'PAGE: {{ ti.task_id }} of {{ dag.dag_id }} failed'\n"
        "        html_content: 'try {{ ti.try_number }}'\n",
    )
    (tmp_path / "data" / EXAMPLE_CSV.name).unlink()
    assert run_with_retries(path).state == "failed"
    pages = [m for m in smtp_server.messages if m["To"] == "pager@example.com"]
    assert [m["Subject"] for m in pages] == ["PAGE: snapshot_data of alert_other failed"]
    assert len(smtp_server.messages) == 2  # and our own failure mail


def test_a_run_that_overruns_its_deadline_sends_the_stalled_mail(tmp_path, airflow_db, smtp_server):
    """alerts: {on: [stalled], deadline: 3h}: a run created 4 h after its logical date
    (through the serialized DAG, as the scheduler creates runs) gets Airflow's Deadline; the
    scheduler's own miss handling (Deadline.handle_miss, what its loop calls for deadlines
    in the past) queues our callback as a trigger, and running that trigger (Airflow's
    CallbackTrigger, as the triggerer does) mails the stalled alert."""
    import asyncio
    import datetime as dt
    import importlib

    from airflow.models.deadline import Deadline
    from airflow.utils.session import create_session
    from sqlalchemy import select

    from airflow_ml_provider.cli.airflow_compat import create_dag_run, serialize_dag
    from airflow_ml_provider.factory.builder import build_dag
    from airflow_ml_provider.pipeline_spec.loader import load_pipeline

    path = alerting_pipeline(tmp_path, "alert_late", "retries: 0\n", "[failure, stalled]")
    edit(path, "  on: [failure, stalled]\n", "  on: [failure, stalled]\n  deadline: 3h\n")
    serialize_dag(build_dag(load_pipeline(path)))

    logical = dt.datetime.now(dt.UTC) - dt.timedelta(hours=4)
    with create_session() as session:
        create_dag_run(
            "alert_late", session, when=logical, scheduled=True, run_id="scheduled__late"
        )
    with create_session() as session:
        (deadline,) = session.scalars(
            select(Deadline).where(Deadline.deadline_time < dt.datetime.now(dt.UTC))
        ).all()
        assert deadline.deadline_time == logical + dt.timedelta(hours=3)
        deadline.handle_miss(session)
        session.flush()
        trigger = deadline.callback.trigger
        classpath, kwargs = trigger.classpath, trigger.kwargs
    module, _, name = classpath.rpartition(".")
    callback_trigger = getattr(importlib.import_module(module), name)(**kwargs)

    async def events():
        return [event.payload async for event in callback_trigger.run()]

    statuses = [payload["state"] for payload in asyncio.run(events())]
    assert statuses == ["running", "success"]
    (mail,) = smtp_server.messages
    assert mail["Subject"] == (
        "[airflow-ml] STALLED alert_late: run scheduled__late not finished after 3:00:00"
    )
    html, text = mail_parts(mail)
    assert "State: running" in text
    assert "/dags/alert_late/runs/scheduled__late" in text
