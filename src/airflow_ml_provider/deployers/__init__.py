"""Deployment strategies as objects (``deployment.strategy`` picks one by name), and the
record on a model version that lets a later rollback find the deployment again."""

from __future__ import annotations

import importlib
import json
from collections.abc import Mapping
from typing import Any, cast

from airflow_ml_provider.core.errors import DeploymentFailed
from airflow_ml_provider.core.strategies import DEPLOYERS, DEPLOYMENT_TAG, STRATEGIES, Strategy
from airflow_ml_provider.deployers.base import Deployer

__all__ = ["Deployer", "DeploymentFailed", "deployer_class", "record", "recorded_deployer"]


def deployer_class(strategy: str) -> type[Deployer]:
    """The Deployer of ``strategy`` (core.strategies.DEPLOYERS), imported on first use."""
    if strategy not in STRATEGIES:
        known = ", ".join(STRATEGIES)
        raise DeploymentFailed(f"unknown deployment strategy {strategy!r} (known: {known})")
    module, name = DEPLOYERS[cast(Strategy, strategy)].split(":")
    return getattr(importlib.import_module(module), name)


def record(client: Any, version: str, deployer: Deployer) -> None:
    """Tag ``version`` with how it was deployed (strategy and non-secret settings)."""
    value = json.dumps({"strategy": deployer.strategy, "settings": deployer.settings()})
    client.set_model_version_tag(deployer.model_name, version, DEPLOYMENT_TAG, value)


def recorded_deployer(
    client: Any,
    model_name: str,
    version: str | None,
    connections: Mapping[str, str] | None = None,
    **options: Any,
) -> Deployer:
    """The deployer recorded on ``version`` (the serving champion) at its deployment; the
    ``alias`` strategy when nothing was recorded (no deployment, or one from before records).

    ``connections`` (Airflow connection ids by system, e.g. ``{"kubernetes": ...}``) and
    ``options`` (mlflow_conn_id, log) are the caller's, never the record's: a registry tag
    cannot choose which Airflow connection is used.
    """
    recorded: Any = {"strategy": "alias", "settings": {}}
    if version is not None:
        tags = client.get_model_version(model_name, str(version)).tags or {}
        if DEPLOYMENT_TAG in tags:
            try:
                recorded = json.loads(tags[DEPLOYMENT_TAG])
            except ValueError:
                recorded = None
    if not (isinstance(recorded, dict) and isinstance(recorded.get("settings", {}), dict)):
        raise DeploymentFailed(
            f"the tag {DEPLOYMENT_TAG} on version {version} of {model_name} is not a "
            "deployment record ({strategy, settings}); pass --pipeline FILE.yaml"
        )
    cls = deployer_class(str(recorded.get("strategy")))
    settings = recorded.get("settings") or {}
    try:
        return cls.from_settings(model_name, settings, connections or {}, **options)
    except (TypeError, ValueError, KeyError) as error:
        raise DeploymentFailed(
            f"the deployment record on version {version} of {model_name} does not describe "
            f"a {cls.strategy} deployment ({error}); pass --pipeline FILE.yaml"
        ) from None
