"""alerts.notifiers templates render with a restricted context: the run's names, dates and
error, never connections, variables or live Airflow objects (a real BaseNotifier subclass,
rendered by Airflow's own templating)."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
from airflow.sdk import BaseNotifier

from airflow_ml_provider.notifications.notifier import ConfiguredNotifier

RENDERED: list[str] = []


class RecordingNotifier(BaseNotifier):
    template_fields = ("text",)

    def __init__(self, text: str) -> None:
        super().__init__()
        self.text = text

    def notify(self, context) -> None:
        RENDERED.append(self.text)


class Secrets:
    """Stands for Airflow's ``conn`` accessor: reading it is what must not happen."""

    def __getattr__(self, name: str):
        raise AssertionError(f"a notifier template reached the connection {name!r}")


def context() -> dict:
    ti = SimpleNamespace(
        dag_id="churn_ct",
        task_id="train_model",
        run_id="manual__1",
        try_number=2,
        map_index=-1,
        log_url="http://airflow/log",
        get_template_context=lambda: {"conn": Secrets()},
    )
    return {"ti": ti, "run_id": "manual__1", "conn": Secrets(), "var": Secrets(),
            "exception": ValueError("no rows")}  # fmt: skip


def notify(text: str) -> str:
    RENDERED.clear()
    path = f"{__name__}.RecordingNotifier"
    ConfiguredNotifier(path, {"text": text}).notify(context())
    return RENDERED[-1]


def test_templates_see_the_run_but_not_secrets(monkeypatch):
    monkeypatch.setenv("AIRFLOW__ML_PROVIDER__ALLOWED_NOTIFIER_MODULES", __name__)
    assert notify("{{ dag.dag_id }}/{{ ti.task_id }} try {{ ti.try_number }}: {{ exception }}") == (
        "churn_ct/train_model try 2: ValueError: no rows"
    )
    for probe in (
        "{{ conn.smtp_default.password }}",
        "{{ var.value.api_key }}",
        "{{ ti.get_template_context()['conn'].x }}",
    ):
        with pytest.raises(Exception) as caught:
            notify(probe)
        assert "reached the connection" not in str(caught.value)
