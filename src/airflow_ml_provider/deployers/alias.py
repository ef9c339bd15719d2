"""Strategies ``alias`` and ``batch``: whoever serves reads ``models:/<name>@champion``, so
moving the alias is the deployment; loading the model through it is the check."""

from __future__ import annotations

from typing import Any

from airflow_ml_provider.deployers.base import Deployer
from airflow_ml_provider.ml.registry.aliases import CHAMPION, smoke_test


class AliasDeployer(Deployer):
    """Serving reads ``models:/<name>@champion``: deploy and rollback load the model through
    the alias (verified, as serving loads it) and predict on its stored input example."""

    strategy = "alias"

    @property
    def model_uri(self) -> str:
        return f"models:/{self.model_name}@{CHAMPION}"

    def deploy(self, version: str) -> dict[str, Any]:
        return self.smoke_test()

    def rollback(self, to_version: str) -> dict[str, Any]:
        return self.smoke_test()

    def smoke_test(self) -> dict[str, Any]:
        smoke_test(self.model_uri)
        return {}


class BatchDeployer(AliasDeployer):
    """``batch``: score_batch reads the alias on every run, so it deploys as ``alias`` does."""

    strategy = "batch"
