"""training.search through a whole pipeline (dag.test(), real Airflow, MLflow, scikit-learn):
the searched model is what gets evaluated and registered, and the run records how to
reproduce it."""

from __future__ import annotations

from helpers.pipelines import edit, run, write_pipeline


def test_grid_search_picks_params_and_the_run_records_them(tmp_path, airflow_db):
    from airflow_ml_provider import __version__
    from airflow_ml_provider.hooks.mlflow import MlflowHook

    path = write_pipeline(tmp_path, "e2e_search")
    edit(
        path,
        "  runner: local\n",
        "  runner: local\n  search: {method: grid, params: {max_depth: [2, 4]}, cv: 3}\n",
    )
    result = run(path)
    assert result["state"] == "success", result
    assert result["promoted"] is True

    client = MlflowHook().get_conn()
    logged = client.get_run(result["mlflow_run_id"]).data
    assert logged.params["best.max_depth"] in {"2", "4"}
    assert logged.params["search.scoring"] == "roc_auc"  # the primary metric by default
    assert 0.9 < logged.metrics["search.best_cv_roc_auc"] <= 1.0
    assert logged.tags["airflow_ml.seed"] == "7"
    assert logged.tags["airflow_ml.provider_version"] == __version__
    artifacts = {a.path for a in client.list_artifacts(result["mlflow_run_id"])}
    artifacts |= {a.path for a in client.list_artifacts(result["mlflow_run_id"], "search")}
    assert {"job.json", "search/cv_results.csv"} <= artifacts
