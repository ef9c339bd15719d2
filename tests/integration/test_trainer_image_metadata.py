"""A trainer image's model that does not say what it answers is refused, by name, with the
metadata to log: real MLflow (a SQLite store), real scikit-learn models logged the way a
team's trainer would log them, read back by the trainer-image check."""

from __future__ import annotations

from types import SimpleNamespace

import mlflow
import pytest
from sklearn.datasets import load_breast_cancer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from airflow_ml_provider.ml.training.trainer_image import TrainerImageError, _check_metadata


@pytest.fixture(scope="module")
def logged(tmp_path_factory):
    """Three models logged as a trainer image would: a classifier with the task and the
    classes, one with the regression task, one with the task but no classes."""
    folder = tmp_path_factory.mktemp("mlflow")
    mlflow.set_tracking_uri(f"sqlite:///{folder / 'mlflow.db'}")
    x, y = load_breast_cancer(return_X_y=True, as_frame=True)
    model = make_pipeline(StandardScaler(), LogisticRegression()).fit(x, y)
    uris = {}
    metadata = {
        "complete": {"airflow_ml_task": "classification", "airflow_ml_classes": [0, 1]},
        "regression": {"airflow_ml_task": "regression"},
        "no_classes": {"airflow_ml_task": "classification"},
    }
    experiment = mlflow.create_experiment("trainer_image_metadata")  # not another test's
    with mlflow.start_run(experiment_id=experiment):
        for name, values in metadata.items():
            info = mlflow.sklearn.log_model(model, name=name, metadata=values)
            uris[name] = info.model_uri
    yield uris
    mlflow.set_tracking_uri(None)


CLASSIFICATION = SimpleNamespace(task="classification")


def test_a_classifier_that_says_its_task_and_classes_passes(logged):
    _check_metadata(logged["complete"], CLASSIFICATION)


def test_a_model_logged_for_another_task_is_refused(logged):
    with pytest.raises(TrainerImageError) as refused:
        _check_metadata(logged["regression"], CLASSIFICATION)
    message = str(refused.value)
    assert "airflow_ml_task='regression'" in message
    assert "the pipeline trains 'classification'" in message
    assert "metadata={'airflow_ml_task': 'classification'}" in message


def test_a_classifier_without_its_classes_is_refused(logged):
    with pytest.raises(TrainerImageError) as refused:
        _check_metadata(logged["no_classes"], CLASSIFICATION)
    assert "has no metadata airflow_ml_classes" in str(refused.value)
    assert "{'airflow_ml_classes': [0, 1]}" in str(refused.value)
