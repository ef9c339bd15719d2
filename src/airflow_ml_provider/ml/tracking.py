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


def model_requirements(modules: list[str], *, with_provider: bool = False) -> list[str]:
    """Pinned pip requirements of a logged model: the distributions of ``modules``.

    Given explicitly so MLflow does not infer them (which loads the model again in a
    subprocess, or exports a whole lock file when one is in the working directory).
    """
    import importlib.metadata

    from airflow_ml_provider import __version__

    names = importlib.metadata.packages_distributions()
    pinned = {}
    for module in modules:
        for name in names.get(module.split(".")[0], []):
            pinned[name] = f"{name}=={importlib.metadata.version(name)}"
    if with_provider:  # the router's code imports this package
        pinned["airflow-ml-provider"] = f"airflow-ml-provider=={__version__}"
    return sorted(pinned.values())
