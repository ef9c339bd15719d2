"""MLflow experiment setup shared by training and evaluation (no Airflow imports)."""

from __future__ import annotations

import functools
from collections.abc import Iterator, Mapping
from contextlib import contextmanager, suppress
from pathlib import Path


def use_experiment(tracking_uri: str | None, name: str, artifact_location: str | None) -> str:
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

    pinned = {}
    for module in modules:
        for name in installed_distributions().get(module.split(".")[0], []):
            pinned[name] = f"{name}=={importlib.metadata.version(name)}"
    if with_provider:  # the router's code imports this package
        pinned["airflow-ml-provider"] = f"airflow-ml-provider=={__version__}"
    return sorted(pinned.values())


@functools.cache
def installed_distributions() -> Mapping[str, list[str]]:
    """Top-level module -> the distributions that install it, read once per process: it
    reads every installed distribution's file list (~0.7 s), and what is installed does not
    change under a running process. The warm training process reads it before it forks."""
    import importlib.metadata

    return importlib.metadata.packages_distributions()


@contextmanager
def model_written_whole() -> Iterator[None]:
    """Around a ``log_model`` call in the active run: when it fails (a full artifact store, a
    lost connection), the logged model it started — its partial files in the store and its
    pending record — is removed before the error goes on, so nothing half-written is left to
    be found, loaded or registered."""
    import mlflow

    run = mlflow.active_run()
    before = {model.model_id for model in _models_of(run)}
    try:
        yield
    except BaseException:
        try:
            for model in _models_of(run):
                if model.model_id not in before:
                    _remove_logged_model(model)
        except Exception as cleanup:  # the write's own error is the one to report
            print(f"could not remove the incompletely written model: {cleanup}")
        raise


def _models_of(run) -> list:
    import mlflow

    return mlflow.search_logged_models(
        experiment_ids=[run.info.experiment_id],
        filter_string=f"source_run_id = '{run.info.run_id}'",
        output_format="list",
    )


def _remove_logged_model(model) -> None:
    import mlflow
    from mlflow.store.artifact.artifact_repository_registry import get_artifact_repository

    try:
        get_artifact_repository(model.artifact_location).delete_artifacts()
    except (OSError, mlflow.exceptions.MlflowException) as exc:
        print(f"could not remove the partial model files at {model.artifact_location}: {exc}")
    if model.artifact_location.startswith("file://"):  # its now empty folder too
        folder = Path(model.artifact_location.removeprefix("file://")).parent
        with suppress(OSError):
            folder.rmdir()
    mlflow.MlflowClient().delete_logged_model(model.model_id)
    print(f"removed the incompletely written model {model.model_id}")
