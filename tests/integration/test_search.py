"""Hyper-parameter search in the training entrypoint: real sklearn data, real MLflow store."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from airflow_ml_provider.core.training_job import TrainingJob
from airflow_ml_provider.ml import train as train_module
from airflow_ml_provider.ml.features.estimators import UnknownParameterError
from airflow_ml_provider.ml.integrity.provenance import public_job, without_credentials
from airflow_ml_provider.ml.search.cross_validated import SearchError, distribution, param_space
from helpers.training_jobs import typed_job


@pytest.fixture(scope="module")
def datasets(tmp_path_factory) -> dict:
    """breast cancer (classification) and diabetes (regression) as CSV snapshots."""
    from sklearn.datasets import load_breast_cancer, load_diabetes

    folder = tmp_path_factory.mktemp("data")
    paths = {}
    for name, loader in (("cancer", load_breast_cancer), ("diabetes", load_diabetes)):
        frame = loader(as_frame=True).frame
        paths[name] = folder / f"{name}.csv"
        frame.to_csv(paths[name], index=False)
    return paths


def job(tmp_path, data_path, **overrides) -> dict:
    classification = data_path.stem == "cancer"
    base = {
        "estimator": "sklearn.linear_model.LogisticRegression"
        if classification
        else "sklearn.linear_model.Ridge",
        "params": {"max_iter": 500} if classification else {},
        "task": "classification" if classification else "regression",
        "metrics": ["roc_auc", "accuracy"] if classification else ["rmse", "r2"],
        "allowed_estimator_modules": ["sklearn."],
        "data": {
            "uri": data_path.as_uri(),
            "format": "csv",
            "sha256": "0" * 64,
            "target": "target",
            "features": ["mean radius", "mean texture", "mean smoothness"]
            if classification
            else None,
            "split": {"test_size": 0.25, "seed": 7, "stratify": classification},
        },
        "tracking_uri": f"sqlite:///{tmp_path / 'mlflow.db'}",
        "experiment_name": "airflow-ml/search",
        "artifact_location": (tmp_path / "artifacts").as_uri(),
        "run_name": "search",
        "tags": {"airflow_ml.pipeline": "search", "airflow_ml.config_hash": "cafe"},
    }
    base.update(overrides)
    return base


def run_entrypoint(tmp_path, payload: dict, capsys) -> tuple[int, dict | None, str]:
    """The real entrypoint function (main --job), in this process to keep the tests quick."""
    path = tmp_path / "job.json"
    payload = {**payload, "output": str(tmp_path / "result.json")}
    path.write_text(json.dumps(payload))
    code = train_module.main(["--job", str(path)])
    err = capsys.readouterr().err
    result = json.loads((tmp_path / "result.json").read_text()) if code == 0 else None
    return code, result, err


def client_for(tmp_path):
    import mlflow

    return mlflow.MlflowClient(f"sqlite:///{tmp_path / 'mlflow.db'}")


def cv_table(client, run_id):
    import pandas as pd

    path = client.download_artifacts(run_id, "search/cv_results.csv")
    return pd.read_csv(path)


def test_grid_search_picks_the_best_params_and_logs_the_cv_table(
    tmp_path, datasets, capsys, monkeypatch
):
    monkeypatch.setenv("AIRFLOW_ML_IMAGE", "registry.example.com/train:1.2")
    monkeypatch.setenv("AIRFLOW_ML_IMAGE_DIGEST", "sha256:feed")
    monkeypatch.setenv("AIRFLOW_ML_DAGS_COMMIT", "abc123")
    search = {"method": "grid", "params": {"C": [1e-6, 1.0]}, "cv": 3, "scoring": "accuracy"}
    payload = job(tmp_path, datasets["cancer"], search=search)
    code, result, err = run_entrypoint(tmp_path, payload, capsys)
    assert code == 0, err
    # C=1e-6 predicts the majority class only; C=1 separates the classes.
    assert result["search"]["best_params"] == {"C": 1.0}
    assert result["search"]["scoring"] == "accuracy"
    assert result["search"]["candidates"] == 2
    client = client_for(tmp_path)
    run = client.get_run(result["run_id"])
    assert run.data.params["best.C"] == "1.0"
    assert run.data.params["search.method"] == "grid"
    assert run.data.params["search.scoring"] == "accuracy"
    best_cv = run.data.metrics["search.best_cv_accuracy"]
    assert best_cv == pytest.approx(result["search"]["best_cv_score"])
    assert 0.8 < best_cv <= 1
    assert 0.5 < run.data.metrics["roc_auc"] <= 1  # held-out metrics still come from the test rows

    table = cv_table(client, result["run_id"])
    assert len(table) == 2
    assert "params" not in table.columns  # dicts are not JSON-able scalars: left out
    assert {"param_C", "mean_test_accuracy", "rank_test_accuracy", "mean_fit_time"} <= set(
        table.columns
    )
    assert table.loc[table["rank_test_accuracy"] == 1, "param_C"].item() == 1.0
    assert table["mean_test_accuracy"].max() == pytest.approx(best_cv)

    # Reproducibility record on every run.
    tags = run.data.tags
    assert tags["airflow_ml.seed"] == "7"
    assert tags["airflow_ml.config_hash"] == "cafe"
    assert tags["airflow_ml.data_sha256"] == "0" * 64
    assert tags["airflow_ml.image"] == "registry.example.com/train:1.2"
    assert tags["airflow_ml.image_digest"] == "sha256:feed"
    assert tags["airflow_ml.dags_commit"] == "abc123"
    import sklearn

    from airflow_ml_provider import __version__

    assert tags["airflow_ml.sklearn_version"] == sklearn.__version__
    assert tags["airflow_ml.provider_version"] == __version__
    assert tags["airflow_ml.python_version"].count(".") == 2
    logged = json.loads(Path(client.download_artifacts(result["run_id"], "job.json")).read_text())
    assert logged == public_job(TrainingJob.model_validate(payload))
    assert "output" not in logged and logged["search"] == search


def test_random_search_samples_distributions_with_the_split_seed(tmp_path, datasets, capsys):
    search = {
        "method": "random",
        "params": {"alpha": {"distribution": "loguniform", "low": 1e-3, "high": 10.0}},
        "cv": 3,
        "n_iter": 4,
        "scoring": None,  # the job's primary metric: rmse (lower is better)
    }
    code, result, err = run_entrypoint(
        tmp_path, job(tmp_path, datasets["diabetes"], search=search), capsys
    )
    assert code == 0, err
    assert result["search"]["scoring"] == "rmse"
    assert 1e-3 <= result["search"]["best_params"]["alpha"] <= 10.0
    client = client_for(tmp_path)
    run = client.get_run(result["run_id"])
    assert run.data.params["search.n_iter"] == "4"
    assert run.data.metrics["search.best_cv_rmse"] > 0  # natural sign, not sklearn's negated one
    table = cv_table(client, result["run_id"])
    assert len(table) == 4
    assert table["param_alpha"].between(1e-3, 10.0).all()
    assert (table["mean_test_rmse"] > 0).all()
    # lower is better: the best candidate has the smallest rmse
    best = table.loc[table["rank_test_rmse"] == 1]
    assert best["mean_test_rmse"].item() == pytest.approx(table["mean_test_rmse"].min())
    assert best["param_alpha"].item() == pytest.approx(result["search"]["best_params"]["alpha"])

    # Same job, same seed: the same candidates are sampled.
    again_path = tmp_path / "again"
    again_path.mkdir()
    code, again, err = run_entrypoint(
        again_path, job(again_path, datasets["diabetes"], search=search), capsys
    )
    assert code == 0, err
    sampled = cv_table(client_for(again_path), again["run_id"])["param_alpha"]
    assert list(sampled) == list(table["param_alpha"])


def test_distributions_are_converted_to_scipy_correctly():
    uniform = distribution("x", {"distribution": "uniform", "low": 0.2, "high": 0.5})
    assert uniform.support() == pytest.approx((0.2, 0.5))  # loc=low, scale=high-low
    assert uniform.mean() == pytest.approx(0.35)
    log = distribution("x", {"distribution": "loguniform", "low": 1e-3, "high": 10})
    assert log.support() == pytest.approx((1e-3, 10))
    assert log.median() == pytest.approx(0.1)  # geometric middle of 1e-3 and 10
    ints = distribution("x", {"distribution": "randint", "low": 1, "high": 3})
    assert ints.support() == (1, 3)  # both ends included
    assert set(ints.rvs(200, random_state=0)) == {1, 2, 3}

    space = param_space(
        "random", {"a": [1, 2], "b": {"distribution": "uniform", "low": 0, "high": 1}}
    )
    assert space["a"] == [1, 2] and space["b"].support() == (0, 1)

    for bad, message in [
        ({"distribution": "uniform", "low": 1, "high": 1}, "need finite low < high"),
        ({"distribution": "loguniform", "low": 0, "high": 1}, "loguniform needs low > 0"),
        ({"distribution": "randint", "low": 1.5, "high": 3}, "randint needs integer"),
        ({"distribution": "normal", "low": 0, "high": 1}, "distribution must be"),
    ]:
        with pytest.raises(SearchError, match=message):
            distribution("x", bad)
    with pytest.raises(SearchError, match="'b': grid search takes a list of values"):
        param_space("grid", {"b": {"distribution": "uniform", "low": 0, "high": 1}})


def test_bad_search_param_name_is_one_line_naming_it(tmp_path, datasets, capsys):
    search = {"method": "grid", "params": {"CC": [1.0]}, "cv": 3, "scoring": None}
    code, _, err = run_entrypoint(
        tmp_path, job(tmp_path, datasets["cancer"], search=search), capsys
    )
    assert code == 2
    assert err.strip().splitlines()[-1] == (
        "error: UnknownParameterError: sklearn.linear_model.LogisticRegression does not accept "
        "the search parameter 'CC'; did you mean 'C'?"
    )
    assert issubclass(UnknownParameterError, ValueError)


def test_job_record_drops_credentials():
    assert (
        without_credentials("https://alice:s3cret@mlflow.example.com/api?token=x&db=1")
        == "https://mlflow.example.com/api?db=1"
    )
    assert without_credentials("sqlite:////tmp/mlflow.db") == "sqlite:////tmp/mlflow.db"
    record = public_job(typed_job(tracking_uri="http://u:p@h:5000", output="/tmp/r.json"))
    assert record["tracking_uri"] == "http://h:5000" and "output" not in record


def test_dags_commit_falls_back_to_git_for_a_local_pipeline_file(monkeypatch):
    import subprocess

    from airflow_ml_provider.ml.integrity.provenance import reproducibility_tags

    monkeypatch.delenv("AIRFLOW_ML_DAGS_COMMIT", raising=False)
    head = subprocess.run(
        ["git", "rev-parse", "HEAD"], capture_output=True, text=True, cwd=Path(__file__).parent
    ).stdout.strip()
    data = {"uri": "file:///x.csv", "sha256": "ab", "split": {"seed": 3}}
    tags = reproducibility_tags(typed_job(data=data, pipeline_file=__file__), {})
    assert tags["airflow_ml.dags_commit"] == head
    assert tags["airflow_ml.seed"] == "3" and tags["airflow_ml.data_sha256"] == "ab"
    # Tags the job sets itself win; no pipeline file (as in a pod) means no commit tag.
    kept = reproducibility_tags(typed_job(data=data), {"airflow_ml.data_sha256": "from-job"})
    assert "airflow_ml.data_sha256" not in kept and "airflow_ml.dags_commit" not in kept
