"""The gate's noise-aware and first-run rules through whole pipelines (dag.test(), real
Airflow, MLflow SQLite store, Great Expectations, scikit-learn)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from helpers.pipelines import edit, mail_parts, run, write_pipeline


def test_a_within_noise_win_does_not_flip_the_champion(tmp_path, airflow_db):
    """Two random forests that differ only by their seed: with confidence 0.95 the second
    one's improvement cannot clear its bootstrap lower bound, whatever its point estimate."""
    from airflow_ml_provider.hooks.mlflow import MlflowHook

    path = write_pipeline(tmp_path, "e2e_noise")
    edit(
        path,
        "  min_improvement: 0.0\n",
        "  min_improvement: 0.0\n  confidence: 0.95\n  bootstrap_samples: 300\n"
        "  max_regression: {f1: 0.05}\n",
    )
    first = run(path)
    assert first["promoted"] is True
    edit(path, "random_state: 7", "random_state: 8")
    second = run(path)
    rules = {rule["rule"]: rule for rule in second["decision"]["rules"]}
    bound = rules["improvement_lower_bound_95"]
    assert bound["passed"] is False and bound["value"] < 0.0 and bound["bound"] == 0.0
    assert rules["max_regression"]["metric"] == "f1"
    assert second["promoted"] is False
    assert second["model"]["aliases"]["champion"] == 1
    assert second["tasks"]["deploy_model"] == "skipped"

    client = MlflowHook().get_conn()
    decision = client.download_artifacts(second["mlflow_run_id"], "gate/decision.json")
    assert '"improvement_lower_bound_95"' in Path(decision).read_text()
    importance = client.download_artifacts(
        second["mlflow_run_id"], "gate/permutation_importance.csv"
    )
    lines = Path(importance).read_text().splitlines()
    assert lines[0] == "feature,importance,std" and len(lines) == 31  # 30 features
    shap_table = client.download_artifacts(second["mlflow_run_id"], "gate/shap_importance.csv")
    lines = Path(shap_table).read_text().splitlines()
    assert lines[0] == "feature,mean_abs_shap" and len(lines) == 31
    stored = json.loads(Path(decision).read_text())
    assert [row["feature"] for row in stored["shap"]] == [
        line.split(",")[0] for line in lines[1:11]
    ]


def test_a_slice_gap_blocks_promotion(tmp_path, airflow_db):
    """A 'site' column splits the held-out rows in two groups; with max_gap 0.0 any gap
    between the groups' roc_auc blocks promotion, even of a first model."""
    import pandas as pd

    path = write_pipeline(tmp_path, "e2e_slices")
    data = tmp_path / "data" / "breast_cancer.csv"
    frame = pd.read_csv(data)
    frame.insert(0, "site", [index % 2 for index in range(len(frame))])
    frame.to_csv(data, index=False)
    edit(
        path,
        "  min_improvement: 0.0\n",
        "  min_improvement: 0.0\n  slices: [{column: site, max_gap: 0.0, min_rows: 20}]\n",
    )
    result = run(path)
    assert result["state"] == "success", result["tasks"]
    rules = {rule["rule"]: rule for rule in result["decision"]["rules"]}
    gap = rules["slice_gap"]
    assert gap["metric"] == "roc_auc by site" and gap["passed"] is False and gap["value"] > 0
    assert result["promoted"] is False
    assert result["model"]["aliases"] == {"challenger": 1}


def test_a_first_model_that_does_not_beat_the_baseline_is_never_promoted(
    tmp_path, airflow_db, smtp_server, capsys
):
    """A first run with no thresholds whose model learned nothing (it always answers the
    majority class): the gate scores a DummyClassifier fitted on the same training rows on
    the same held-out rows; the model does not beat it by 1 %, so nothing is promoted — and
    the run, --json, the CLI summary and the mail say why in one line. Turning the baseline
    off lets the same model through (the rule is what stopped it)."""
    from airflow_ml_provider.cli.run_report import print_summary

    path = write_pipeline(
        tmp_path,
        "e2e_baseline",
        estimator="sklearn.dummy.DummyClassifier",
        params="{strategy: most_frequent}",
        smtp_conn_id="smtp_test",
        mail_on="[failure, summary]",
    )
    edit(path, "  thresholds: {roc_auc: 0.9}\n", "")
    result = run(path)
    assert result["state"] == "success", result
    assert result["promoted"] is False
    assert result["model"]["aliases"].get("champion") is None
    reason = result["decision"]["reason"]
    assert reason == (
        "no better than a trivial baseline: roc_auc 0.5000, needed 0.5050 to beat the "
        "baseline (evaluation.baseline)"
    )
    (rule,) = [r for r in result["decision"]["rules"] if r["rule"] == "beats_baseline"]
    assert rule["passed"] is False
    print_summary(result)
    assert reason in capsys.readouterr().out
    (mail,) = smtp_server.messages
    html, text = mail_parts(mail)
    assert reason in text and reason in html

    edit(path, "  min_improvement: 0.0\n", "  min_improvement: 0.0\n  baseline: false\n")
    unguarded = run(path)
    assert unguarded["promoted"] is True
    assert not [r for r in unguarded["decision"]["rules"] if r["rule"] == "beats_baseline"]


def test_the_gates_numbers_can_be_rebuilt_from_the_logged_heldout_rows(tmp_path, airflow_db):
    """gate/heldout_rows.csv lists the held-out rows by snapshot position with a hash of
    each row: plain pandas + scikit-learn + the registered model rebuild the gate's roc_auc
    exactly from the snapshot, and the hashes prove they are the same rows."""
    import mlflow
    import pandas as pd
    from sklearn.metrics import roc_auc_score

    from airflow_ml_provider.hooks.mlflow import MlflowHook

    result = run(write_pipeline(tmp_path, "e2e_rebuild"))
    assert result["promoted"] is True
    client = MlflowHook().get_conn()
    run_id = result["mlflow_run_id"]
    rows = pd.read_csv(client.download_artifacts(run_id, "gate/heldout_rows.csv"))
    assert list(rows.columns) == ["position", "row_hash"]
    snapshot = pd.read_parquet(result["snapshot"]["uri"].removeprefix("file://"))
    heldout = snapshot.iloc[rows["position"]]
    x, y = heldout.drop(columns="target"), heldout["target"]
    hashes = pd.util.hash_pandas_object(x.assign(__label__=y.to_numpy()), index=False)
    assert [f"{int(h):016x}" for h in hashes] == rows["row_hash"].tolist()
    model = mlflow.sklearn.load_model(f"models:/e2e_rebuild_model/{result['model']['version']}")
    rebuilt = roc_auc_score(y, model.predict_proba(x)[:, 1])
    assert rebuilt == pytest.approx(result["metrics"]["challenger"]["roc_auc"], abs=1e-12)


def test_a_model_that_did_not_converge_is_a_run_warning_not_only_a_log_line(
    tmp_path, airflow_db, smtp_server, capsys
):
    """LogisticRegression stopped after 5 lbfgs iterations: scikit-learn's
    ConvergenceWarning becomes a training warning in the run's result, its summary, the
    summary mail and a tag on the MLflow run; a model given enough iterations has none."""
    from airflow_ml_provider.cli.run_report import print_summary
    from helpers.pipelines import tracking_tags

    path = write_pipeline(
        tmp_path,
        "e2e_unconverged",
        estimator="sklearn.linear_model.LogisticRegression",
        params="{max_iter: 5}",
        smtp_conn_id="smtp_test",
        mail_on="[summary]",
    )
    result = run(path)
    assert result["state"] == "success", result
    (warning,) = result["training_warnings"]
    assert warning.startswith("the model did not converge: lbfgs failed to converge")
    print_summary(result)
    assert f"training warning: {warning}" in capsys.readouterr().out
    tags = tracking_tags(result["mlflow_run_id"])
    assert tags["airflow_ml.training_warnings"] == warning
    (mail,) = smtp_server.messages
    _, text = mail_parts(mail)
    assert f"Training warning: {warning}" in text
    edit(path, "{max_iter: 5}", "{max_iter: 500}")
    assert run(path)["training_warnings"] == []


def test_positive_class_decides_what_f1_describes(tmp_path, airflow_db):
    """breast_cancer's target is 1 for benign (63 %), 0 for malignant: by default f1 counts
    the minority class (0) as positive; `evaluation.positive_class: 1` counts benign. Both
    equal scikit-learn's f1_score with that pos_label on the gate's held-out rows, rebuilt
    from the snapshot and the registered model, and the two differ."""
    import mlflow
    import pandas as pd
    from sklearn.metrics import f1_score

    from airflow_ml_provider.hooks.mlflow import MlflowHook

    def f1_of(result: dict, pos_label: int) -> float:
        client = MlflowHook().get_conn()
        rows = pd.read_csv(
            client.download_artifacts(result["mlflow_run_id"], "gate/heldout_rows.csv")
        )
        snapshot = pd.read_parquet(result["snapshot"]["uri"].removeprefix("file://"))
        heldout = snapshot.iloc[rows["position"]]
        version = result["model"]["version"] or result["model"].get("challenger_version")
        model = mlflow.sklearn.load_model(f"models:/e2e_positive_model/{version}")
        predicted = model.predict(heldout.drop(columns="target"))
        return f1_score(heldout["target"], predicted, pos_label=pos_label)

    path = write_pipeline(tmp_path, "e2e_positive")
    default = run(path)
    assert default["promoted"] is True, default
    assert default["decision"]["positive_class"] == 0
    assert default["metrics"]["challenger"]["f1"] == pytest.approx(f1_of(default, 0), abs=1e-12)
    edit(path, "  min_improvement: 0.0\n", "  min_improvement: 0.0\n  positive_class: 1\n")
    benign = run(path)
    assert benign["decision"]["positive_class"] == 1
    assert benign["metrics"]["challenger"]["f1"] == pytest.approx(f1_of(benign, 1), abs=1e-12)
    assert (
        abs(benign["metrics"]["challenger"]["f1"] - default["metrics"]["challenger"]["f1"]) > 0.01
    )
