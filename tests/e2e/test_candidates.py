"""training.candidates through dag.test(): real Airflow (SQLite) with dynamic task mapping,
real MLflow, real scikit-learn on the breast cancer table that ships with it, the local
runner. Three candidates (a dummy, a sparse linear model, a forest) and one that cannot fit.

On this table a plain logistic regression and the forest are within 0.003 ROC AUC of each
other; the linear candidate is kept to a few features (L1, C=0.01: about 0.97 by 3-fold CV
against the forest's 0.99) so that which one wins is decided by the data, not by noise."""

from __future__ import annotations

import pandas as pd
import pytest

from helpers.paths import EXAMPLE_CSV
from helpers.pipelines import run_with_training

CANDIDATES = """\
training:
  max_parallel: 2
  cv_folds: 3
  candidates:
    - name: dummy
      estimator: sklearn.dummy.DummyClassifier
      params: {strategy: prior}
    - name: linear
      estimator: sklearn.linear_model.LogisticRegression
      params: {penalty: l1, C: 0.01, solver: liblinear}
    - name: forest
      estimator: sklearn.ensemble.RandomForestClassifier
      params: {n_estimators: 30, max_depth: 6, random_state: 7}
    - name: too_many_neighbours
      estimator: sklearn.neighbors.KNeighborsClassifier
      params: {n_neighbors: 5000}
"""


@pytest.fixture(scope="module")
def run(tmp_path_factory, airflow_db):
    return run_with_training(tmp_path_factory.mktemp("candidates"), "candidates_ct", CANDIDATES)


def test_the_best_candidate_by_cv_on_the_train_split_is_the_challenger(run):
    """Three candidates score by 3-fold CV on the train rows only; the forest wins and is the
    registered challenger; the dummy never wins; a candidate that cannot fit fails alone."""
    import mlflow

    from airflow_ml_provider.hooks.mlflow import MlflowHook
    from airflow_ml_provider.ml.data.dataset import split_frame
    from airflow_ml_provider.ml.training.candidates import rows_digest

    path, result = run
    assert result["state"] == "success", result["tasks"]
    assert result["tasks"]["train_candidates"] == "success"
    assert result["tasks"]["select_model"] == "success"
    board = {row["name"]: row for row in result["candidates"]}
    assert [row["name"] for row in result["candidates"]][:3] == ["forest", "linear", "dummy"]
    assert result["winner"] == "forest"
    failed = board["too_many_neighbours"]
    assert failed["status"] == "failed" and "n_neighbors" in failed["error"]
    assert board["dummy"]["cv"]["roc_auc"]["mean"] == pytest.approx(0.5)
    assert board["forest"]["cv"]["roc_auc"]["mean"] > 0.95
    assert board["forest"]["cv"]["roc_auc"]["std"] >= 0

    # No held-out row took part in the selection: every candidate saw exactly the train rows.
    frame = pd.read_csv(EXAMPLE_CSV)
    split = split_frame(
        frame, target="target", features=None, test_size=0.25, seed=7, stratify=True,
        task="classification",
    )  # fmt: skip
    assert {row["rows_sha256"] for row in board.values() if row["rows"]} == {
        rows_digest(split.x_train.index)
    }
    assert set(split.x_train.index).isdisjoint(split.x_test.index)

    # MLflow: the refit is the parent run, the candidates its children, leaderboard.csv on it.
    client = MlflowHook().get_conn()
    parent = client.get_run(result["mlflow_run_id"])
    assert parent.data.tags["airflow_ml.winner"] == "forest"
    assert parent.data.params["estimator"] == "sklearn.ensemble.RandomForestClassifier"
    children = client.search_runs(
        [parent.info.experiment_id], f"tags.`mlflow.parentRunId` = '{parent.info.run_id}'"
    )
    assert {c.data.tags["airflow_ml.candidate"] for c in children} == set(board)
    assert {c.info.status for c in children} == {"FINISHED", "FAILED"}
    table = mlflow.artifacts.load_text(f"runs:/{parent.info.run_id}/leaderboard.csv")
    assert table.splitlines()[1].startswith("1,forest,sklearn.ensemble.RandomForestClassifier")
    assert result["model"]["aliases"]["champion"] == 1  # the refitted winner passed the gate
    # The run summary (log and e-mail) shows the leaderboard.
    lines = result["summary"]["candidates"]
    assert lines[0].startswith("1. forest (sklearn.ensemble.RandomForestClassifier): roc_auc ")
    assert lines[0].endswith("<- refitted as the challenger")
    assert lines[-1].startswith("4. too_many_neighbours") and "failed: ValueError" in lines[-1]


def test_the_pipeline_page_shows_the_leaderboard(run):
    """The "ML pipelines" page of a pipeline with candidates lists the latest version's
    leaderboard, best first, with each candidate's CV score and the failed one's error."""
    from airflow.utils.session import create_session

    from airflow_ml_provider.cli.airflow_compat import serialize_dag
    from airflow_ml_provider.factory.builder import build_dag
    from airflow_ml_provider.pipeline_spec import load_pipeline
    from airflow_ml_provider.ui import views
    from airflow_ml_provider.ui.clients import MlflowClients
    from airflow_ml_provider.ui.render import pipeline_html

    path, result = run
    serialize_dag(build_dag(load_pipeline(path)))
    with create_session() as session:
        view = views.pipeline_view(session, MlflowClients(), result["dag_id"])
    board = view["leaderboard"]
    assert board["version"] == 1
    assert [row["name"] for row in board["rows"]] == [row["name"] for row in result["candidates"]]
    assert "run_id" not in board["columns"] and "cv_roc_auc_mean" in board["columns"]
    html = pipeline_html(view, base="/ml", airflow="/")
    table = html[html.index('<table id="leaderboard">') :]
    table = table[: table.index("</table>")]
    assert table.index(">forest<") < table.index(">linear<") < table.index(">dummy<")
    assert "Expected n_neighbors &lt;= n_samples_fit" in table
