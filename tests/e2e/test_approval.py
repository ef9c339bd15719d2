"""deployment.approval: manual through dag.test() (real Airflow, MLflow, GX, scikit-learn).

The run parks approve_promotion in Airflow 3's human-in-the-loop "awaiting input" state and
dag.test() keeps the run alive until a response arrives. The reviewer is a thread calling
the Airflow API's own HITL response handler (``update_hitl_detail``, what the Required
Actions page and ``PATCH .../hitlDetails`` run) with a session on the same metadata DB —
only the HTTP layer and the login are left out.
"""

from __future__ import annotations

import threading
import time

from helpers.pipelines import edit, run, write_pipeline


def answer_when_asked(dag_id: str, choice: str, seen: dict) -> threading.Thread:
    """The reviewer: local_run.answer_approval, plus what the request showed them."""
    from airflow.utils.session import create_session
    from sqlalchemy import text

    from airflow_ml_provider.cli.local_run import answer_approval

    reviewer = answer_approval(dag_id, choice, "dana", timeout=240)  # maps SQLAlchemy first
    asked = text(
        "SELECT ti.run_id, h.subject, h.body FROM task_instance ti "
        "JOIN hitl_detail h ON h.ti_id = ti.id WHERE ti.dag_id = :dag_id"
    )

    def watch() -> None:
        deadline = time.monotonic() + 240
        while time.monotonic() < deadline and not seen:
            with create_session() as session:
                row = session.execute(asked, {"dag_id": dag_id}).first()
            if row is not None:
                seen.update(run_id=row[0], subject=row[1], body=row[2])
            time.sleep(0.2)

    threading.Thread(target=watch, daemon=True).start()
    return reviewer


def approval_pipeline(tmp_path, name: str, timeout: str = "4m"):
    """The example pipeline with approval: manual. The request expires after ``timeout``
    (rejected), so a reviewer thread that never answers fails the test instead of hanging."""
    path = write_pipeline(tmp_path, name)
    edit(
        path,
        "  strategy: alias\n",
        f"  strategy: alias\n  approval: manual\n  approval_timeout: {timeout}\n",
    )
    return path


def test_an_approved_promotion_goes_ahead(tmp_path, airflow_db):
    from airflow_ml_provider.hooks.mlflow import MlflowHook
    from airflow_ml_provider.ml.registry.aliases import history

    seen: dict = {}
    reviewer = answer_when_asked("e2e_approve", "Approve", seen)
    result = run(approval_pipeline(tmp_path, "e2e_approve"))
    reviewer.join(5)
    assert result["state"] == "success", result["tasks"]
    assert result["tasks"]["approve_promotion"] == "success"
    assert seen["subject"] == "Promote a new champion of e2e_approve_model?"
    assert "| threshold_min | roc_auc |" in seen["body"]
    assert result["promoted"] is True
    assert result["model"]["aliases"] == {"challenger": 1, "champion": 1}
    moves = history(MlflowHook().get_conn(), "e2e_approve_model")
    assert moves[-1]["alias"] == "champion"
    assert moves[-1]["actor"].endswith("approved by dana")


def test_a_rejected_promotion_registers_but_keeps_the_champion(tmp_path, airflow_db):
    seen: dict = {}
    reviewer = answer_when_asked("e2e_reject", "Reject", seen)
    result = run(approval_pipeline(tmp_path, "e2e_reject"))
    reviewer.join(5)
    assert result["state"] == "success", result["tasks"]
    assert result["decision"]["promote"] is True  # the gate said yes, the person said no
    assert result["promoted"] is False
    assert result["model"]["aliases"] == {"challenger": 1}
    assert result["tasks"]["deploy_model"] == "skipped"
    assert result["summary"]["reason"] == "the gate passed but dana rejected promotion"


def test_no_person_is_asked_when_the_gate_says_no(tmp_path, airflow_db):
    path = approval_pipeline(tmp_path, "e2e_no_ask")
    edit(path, "thresholds: {roc_auc: 0.9}", "thresholds: {roc_auc: 0.9999}")
    result = run(path)  # would wait forever if it asked: nobody answers here
    assert result["tasks"]["approve_promotion"] == "success"
    assert result["promoted"] is False


def test_a_first_model_under_require_approval_waits_for_a_person(tmp_path, airflow_db):
    """evaluation.first_run: require_approval with deployment.approval auto: the first model
    passes the gate but is only promoted once someone approves it."""
    seen: dict = {}
    reviewer = answer_when_asked("e2e_first_approval", "Approve", seen)
    path = write_pipeline(tmp_path, "e2e_first_approval")
    edit(
        path, "  min_improvement: 0.0\n", "  min_improvement: 0.0\n  first_run: require_approval\n"
    )
    edit(path, "  strategy: alias\n", "  strategy: alias\n  approval_timeout: 4m\n")
    result = run(path)
    reviewer.join(5)
    assert result["state"] == "success", result["tasks"]
    rules = {rule["rule"]: rule for rule in result["decision"]["rules"]}
    assert rules["threshold_min"]["passed"] is True
    assert rules["first_run_requires_approval"]["passed"] is False
    assert result["decision"]["promote"] is False and seen["run_id"] == result["run_id"]
    assert result["promoted"] is True
    assert result["model"]["aliases"] == {"challenger": 1, "champion": 1}
    assert result["summary"]["reason"] == "first model; thresholds hold; approved by dana"


def test_airflow_ml_run_can_answer_the_approval(tmp_path, airflow_db, capsys):
    import json

    from airflow_ml_provider.cli import main

    path = approval_pipeline(tmp_path, "e2e_cli_reject")
    assert main(["run", str(path), "--reject", "--json"]) == 0
    result = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert result["tasks"]["approve_promotion"] == "success"
    assert result["promoted"] is False
    assert result["summary"]["reason"].startswith("the gate passed but cli:")


def test_an_unanswered_request_expires_as_a_rejection(tmp_path, airflow_db):
    """Nobody answers: after deployment.approval_timeout the scheduler's own timeout sweep
    (run by the local runner, as the deployed scheduler would) answers the default, Reject."""
    path = approval_pipeline(tmp_path, "e2e_unanswered", timeout="2s")
    result = run(path)
    assert result["state"] == "success", result["tasks"]
    assert result["tasks"]["approve_promotion"] == "success"
    assert result["decision"]["promote"] is True
    assert result["promoted"] is False
    assert result["model"]["aliases"] == {"challenger": 1}
    assert result["summary"]["reason"] == (
        "the gate passed but nobody answered the approval request in time"
    )
