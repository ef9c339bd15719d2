"""Mail bodies come from Jinja templates a platform team can override by name."""

from __future__ import annotations

import pytest

from airflow_ml_provider.notifications.mails import TaskTrouble, failure_mail, retry_mail

TROUBLE = TaskTrouble(
    pipeline="churn",
    task_id="snapshot_data",
    run_id="manual__1",
    try_number=1,
    tries=2,
    error="no file matched <data/*.csv>\nsecond line",
    trace_tail=['  File "hooks/data.py", line 1', "DataSourceError: no file"],
    log_url="https://airflow.example.com/dags/churn/runs/manual__1?a=1&b=2",
)


def test_the_default_templates_escape_what_they_show(monkeypatch):
    monkeypatch.delenv("AIRFLOW__ML_PROVIDER__MAIL_TEMPLATES", raising=False)
    mail = failure_mail(TROUBLE)
    assert "no file matched &lt;data/*.csv&gt;" in mail.html  # HTML-escaped, first line only
    assert 'href="https://airflow.example.com/dags/churn/runs/manual__1?a=1&amp;b=2"' in mail.html
    assert "Error: no file matched <data/*.csv>\n" in mail.text  # the text part is not escaped
    assert mail.text.endswith("DataSourceError: no file")


def test_a_platform_teams_folder_replaces_the_templates_it_has(tmp_path, monkeypatch):
    (tmp_path / "_layout.html").write_text(
        "<html><body><p>ACME ML platform</p>{% block body %}{% endblock %}</body></html>"
    )
    (tmp_path / "retry.txt").write_text("Retry {{ t.try_number }}/{{ t.tries }}: {{ error }}")
    monkeypatch.setenv("AIRFLOW__ML_PROVIDER__MAIL_TEMPLATES", str(tmp_path))
    mail = retry_mail(TROUBLE, "in 2 s")
    assert mail.text == "Retry 1/2: no file matched <data/*.csv>"  # the team's text
    assert mail.html.startswith("<html><body><p>ACME ML platform</p>")  # the team's layout...
    assert "<p>Try 1 of 2 failed; the next try is in 2 s.</p>" in mail.html  # ...our body
    assert mail.subject.startswith("[airflow-ml] retry 1/2 churn.snapshot_data: ")


def test_an_override_runs_in_jinjas_sandbox(tmp_path, monkeypatch):
    from jinja2.exceptions import SecurityError

    (tmp_path / "failure.txt").write_text(
        "{{ t.__class__.__init__.__globals__['__builtins__']['open']('/etc/passwd').read() }}"
    )
    monkeypatch.setenv("AIRFLOW__ML_PROVIDER__MAIL_TEMPLATES", str(tmp_path))
    with pytest.raises(SecurityError):
        failure_mail(TROUBLE)
