"""The penguins pipeline with LightGBM and with XGBoost (dag.test(), real Airflow, MLflow,
GX): island and sex reach the estimator as native categoricals, string labels work for
XGBoost too, and the champion predicts original labels on raw rows, unseen island included."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from helpers.pipelines import run
from helpers.real_data import PENGUINS_PIPELINE, penguins


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
