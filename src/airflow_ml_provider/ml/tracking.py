"""MLflow experiment setup shared by training and evaluation (no Airflow imports)."""

from __future__ import annotations


def use_experiment(tracking_uri: str, name: str, artifact_location: str | None) -> str:
    """Point MLflow at ``tracking_uri`` and return the id of experiment ``name`` (created once)."""
    import mlflow

    mlflow.set_tracking_uri(tracking_uri)
    client = mlflow.MlflowClient()
    experiment = client.get_experiment_by_name(name)
    if experiment is None:
        try:
            return client.create_experiment(name, artifact_location=artifact_location)
        except mlflow.exceptions.MlflowException:
            experiment = client.get_experiment_by_name(name)  # created concurrently
            if experiment is None:
                raise
    mlflow.set_experiment(experiment_id=experiment.experiment_id)
    return experiment.experiment_id
