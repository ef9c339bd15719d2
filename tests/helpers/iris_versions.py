"""Registered model versions for deployment tests: real scikit-learn models on iris, logged
with MLflow (to the active experiment) with an input example."""

from __future__ import annotations

import mlflow


def register(
    client,
    model_name: str,
    *,
    missing_feature: bool = False,
    always: int | None = None,
    digest: bool = True,
) -> str:
    """A real LogisticRegression version with an input example; with ``missing_feature``
    the example lacks a column the model needs, so a server answers it with an error;
    with ``always`` a real DummyClassifier that predicts that class for every row; with
    ``digest`` (the default) the files' digest recorded on the run, as training records it;
    without it the version is unverified, as one registered by hand."""
    from sklearn.datasets import load_iris
    from sklearn.dummy import DummyClassifier
    from sklearn.linear_model import LogisticRegression

    from airflow_ml_provider.ml.integrity.model_files import record_digest

    x, y = load_iris(return_X_y=True, as_frame=True)
    example = x.head(3).drop(columns=[x.columns[0]]) if missing_feature else x.head(3)
    estimator = (
        LogisticRegression(max_iter=500)
        if always is None
        else DummyClassifier(strategy="constant", constant=always)
    )
    with mlflow.start_run() as run:
        info = mlflow.sklearn.log_model(
            estimator.fit(x, y),
            name="model",
            input_example=example,
            pip_requirements=["scikit-learn"],
        )
        if digest:
            record_digest(info.model_uri)
    return str(
        client.create_model_version(
            model_name, info.model_uri, run_id=run.info.run_id, model_id=info.model_id
        ).version
    )
