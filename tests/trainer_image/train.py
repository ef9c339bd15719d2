"""A team's trainer as a trainer image runs it (``training.kubernetes.command``), written
against the documented contract only: the job from ``$AIRFLOW_ML_JOB``, the train and
validation rows it names, a native LightGBM booster with early stopping on the validation
rows, logged to the run ``$MLFLOW_RUN_ID`` as an MLflow model named ``model`` with the
metadata the gate reads. It imports mlflow, lightgbm and pandas — never
airflow_ml_provider (the test runs it with that package hidden)."""

from __future__ import annotations

import json
import os

import lightgbm as lgb
import mlflow
import pandas as pd


def rows(uri: str) -> pd.DataFrame:
    return pd.read_parquet(mlflow.artifacts.download_artifacts(artifact_uri=uri))


def main() -> None:
    job = json.loads(os.environ["AIRFLOW_ML_JOB"])
    data = job["data"]
    target = data["target"]
    train = rows(data["train_uri"])
    validation = rows(data["validation_uri"])
    classes = sorted(train[target].unique().tolist())
    code = {label: index for index, label in enumerate(classes)}
    features = [column for column in train.columns if column != target]
    params = {
        "objective": "multiclass",  # one probability column per class, in `classes` order
        "num_class": len(classes),
        "learning_rate": 0.1,
        "verbose": -1,
        "seed": data["split"]["seed"],
        **job["params"],
    }
    train_set = lgb.Dataset(train[features], train[target].map(code))
    validation_set = lgb.Dataset(validation[features], validation[target].map(code))
    history: dict = {}
    with mlflow.start_run(run_id=os.environ["MLFLOW_RUN_ID"]):
        booster = lgb.train(
            params,
            train_set,
            num_boost_round=300,
            valid_sets=[validation_set],
            valid_names=["validation"],
            callbacks=[lgb.early_stopping(15, verbose=False), lgb.record_evaluation(history)],
        )
        for step, loss in enumerate(history["validation"]["multi_logloss"]):
            mlflow.log_metric("validation_multi_logloss", loss, step=step)
        mlflow.log_param("best_iteration", booster.best_iteration)
        mlflow.lightgbm.log_model(
            booster,
            name="model",
            input_example=train[features].head(5),
            metadata={"airflow_ml_task": job["task"], "airflow_ml_classes": classes},
        )
    print(f"trainer image: {len(train)} train rows, stopped at {booster.best_iteration}")


if __name__ == "__main__":
    main()
