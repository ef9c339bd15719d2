"""Nothing new, nothing done: a run on the champion's own data and configuration skips the
training, registration and deployment and says so (dag.test(), real Airflow metadata DB,
MLflow SQLite store, Great Expectations, scikit-learn, a real SMTP server)."""

from __future__ import annotations

import pandas as pd

from helpers.pipelines import edit, mail_parts, versions_of, write_pipeline

SKIPPED = ("train_model", "evaluate_model", "register_model", "deploy_model")


def test_an_unchanged_run_skips_training_and_says_so(tmp_path, airflow_db, smtp_server):
    from airflow_ml_provider.cli.local_run import run_pipeline_file

    path = write_pipeline(tmp_path, "e2e_nothing_new", smtp_conn_id="smtp_test")
    edit(path, "email: [ml-oncall@example.com]", "email: [ml-oncall@example.com]\n  on: [summary]")
    first = run_pipeline_file(path)
    assert first["promoted"] is True and first["unchanged"] is False
    assert first["changes"]["reason"] == "no champion yet"

    second = run_pipeline_file(path)
    assert second["state"] == "success", second["tasks"]
    assert second["unchanged"] is True and second["promoted"] is False
    assert second["tasks"]["check_changes"] == "success"
    assert {task: second["tasks"][task] for task in SKIPPED} == dict.fromkeys(SKIPPED, "skipped")
    assert second["tasks"]["notify"] == "success"
    assert second["changes"]["champion_version"] == 1
    assert second["changes"]["reason"].startswith("nothing new: same data")
    assert versions_of("e2e_nothing_new_model") == [1]  # no identical version registered
    assert second["model"]["aliases"] == {"champion": 1, "challenger": 1}
    summary = second["summary"]
    assert summary["unchanged"] is True and summary["reason"] == second["changes"]["reason"]
    mail = smtp_server.messages[-1]
    assert mail["Subject"].endswith("run summary (nothing new, training skipped)")
    assert "Decision: NOTHING NEW (nothing new: same data" in mail_parts(mail)[1]

    # Asked to retrain anyway (airflow-ml run --retrain): trained, judged, registered.
    forced = run_pipeline_file(path, retrain=True)
    assert forced["unchanged"] is False and forced["tasks"]["train_model"] == "success"
    assert forced["changes"]["reason"] == "the run was triggered with retrain"
    assert versions_of("e2e_nothing_new_model") == [1, 2]

    # New data: trained again, even though the configuration did not change.
    data = tmp_path / "data" / "breast_cancer.csv"
    frame = pd.read_csv(data)
    frame.iloc[: len(frame) - 10].to_csv(data, index=False)
    changed = run_pipeline_file(path)
    assert changed["unchanged"] is False and changed["tasks"]["train_model"] == "success"
    assert changed["changes"]["reason"].startswith("data changed since champion version")
    assert versions_of("e2e_nothing_new_model") == [1, 2, 3]


def test_the_cli_prints_nothing_new(tmp_path, airflow_db, capsys):
    """What `airflow-ml run` prints for a skipped run, and a config change retrains."""
    from airflow_ml_provider.cli.local_run import run_pipeline_file
    from airflow_ml_provider.cli.run_report import print_summary

    path = write_pipeline(tmp_path, "e2e_nothing_new_cli")
    run_pipeline_file(path)
    print_summary(run_pipeline_file(path))
    printed = capsys.readouterr().out
    assert "decision: NOTHING NEW — nothing new: same data" in printed
    assert "train_model      skipped" in printed

    edit(path, "max_depth: 6", "max_depth: 5")
    changed = run_pipeline_file(path)
    assert changed["tasks"]["train_model"] == "success"
    assert changed["changes"]["reason"] == (
        "configuration changed since champion version 1 was trained"
    )


def test_a_partitioned_pipeline_skips_its_fan_out_too(tmp_path, airflow_db):
    """The mapped training tasks (not expanded yet when check_changes runs) and the assembly
    are skipped like train_model."""
    from airflow_ml_provider.cli.local_run import run_pipeline_file
    from helpers.partitioned import write_partitioned

    path = write_partitioned(tmp_path, "e2e_nothing_new_stores", stores=4)
    assert run_pipeline_file(path)["promoted"] is True
    second = run_pipeline_file(path)
    assert second["state"] == "success" and second["unchanged"] is True
    fan_out = ("plan_partitions", "train_partitions", "assemble_model", "register_model")
    assert {task: second["tasks"][task] for task in fan_out} == dict.fromkeys(fan_out, "skipped")
    assert versions_of("e2e_nothing_new_stores_model") == [1]
