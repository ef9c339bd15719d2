"""A registered model belongs to the pipeline that first registered it.

The owner is the registered-model tag ``airflow_ml.dag_id`` (``registry.PIPELINE_MODEL_TAG``),
written once, when the model is created or first claimed, and never overwritten: another
pipeline naming the model — by mistake or to promote its own version over another team's
champion — is refused before it registers anything. ``airflow-ml check`` asks the same
question. No Airflow imports.
"""

from __future__ import annotations

from airflow_ml_provider.ml.registry.aliases import PIPELINE_MODEL_TAG, RegistryError


class ModelOwnershipError(RegistryError):
    """The registered model belongs to another pipeline."""


def model_owner(client, model_name: str) -> str | None:
    """The pipeline (DAG id) that owns ``model_name``: its owner tag, else the DAG id its
    versions were registered by (models registered before owners were recorded); None when
    the model does not exist or nothing registered it."""
    from mlflow.exceptions import MlflowException

    try:
        model = client.get_registered_model(model_name)
    except MlflowException as exc:
        if exc.error_code == "RESOURCE_DOES_NOT_EXIST":
            return None
        raise
    owner = (model.tags or {}).get(PIPELINE_MODEL_TAG)
    if owner:
        return str(owner)
    registered_by = {
        str(v.tags.get(PIPELINE_MODEL_TAG))
        for v in client.search_model_versions(f"name='{model_name}'")
        if (v.tags or {}).get(PIPELINE_MODEL_TAG)
    }
    return min(registered_by) if registered_by else None


def ownership_problem(client, model_name: str, dag_id: str) -> str | None:
    """Why pipeline ``dag_id`` may not register versions of ``model_name`` (None: it may)."""
    owner = model_owner(client, model_name)
    if owner is None or owner == dag_id:
        return None
    return (
        f"registered model {model_name!r} belongs to pipeline {owner!r} (its "
        f"{PIPELINE_MODEL_TAG} tag); pipeline {dag_id!r} may not register versions of it — "
        "choose another registry.model_name"
    )


def claim_model(client, model_name: str, dag_id: str) -> None:
    """Make sure ``model_name`` exists and belongs to ``dag_id``; ModelOwnershipError when
    another pipeline owns it (nothing written then)."""
    from mlflow.exceptions import MlflowException

    problem = ownership_problem(client, model_name, dag_id)
    if problem is not None:
        raise ModelOwnershipError(problem)
    try:
        client.create_registered_model(model_name, tags={PIPELINE_MODEL_TAG: dag_id})
    except MlflowException as exc:
        if exc.error_code != "RESOURCE_ALREADY_EXISTS":
            raise
        client.set_registered_model_tag(model_name, PIPELINE_MODEL_TAG, dag_id)
