"""deploy_model: make the promoted version the one serving reads, or skip when not promoted."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from airflow.sdk import BaseOperator
from airflow.sdk.exceptions import AirflowException, AirflowSkipException

from airflow_ml_provider.core.connections import MLFLOW_CONN_ID
from airflow_ml_provider.core.contracts import Deployment, Registration
from airflow_ml_provider.deployers import Deployer, deployer_class, record
from airflow_ml_provider.hooks.mlflow import MlflowHook
from airflow_ml_provider.ml.registry.aliases import CHAMPION, holder, remove_alias, rollback
from airflow_ml_provider.operators.registry import airflow_actor

CHAMPION_SCHEME = "x-mlmodel://"
"""The scheme of a model's champion asset (``x-mlmodel://<model>/champion``)."""


class AliasDeploymentOperator(BaseOperator):
    """Deployment strategy ``alias``: serving reads ``models:/<name>@champion``.

    Skips (not fails) when the gate did not promote. Otherwise it checks that the alias
    points at the promoted version and hands the version to its deployer (deployers.alias:
    load the model through the alias and predict on its stored input example). If that
    fails, ``champion`` is moved back to ``previous`` so users never get a model that cannot
    serve. A deployed version is tagged with how it was deployed, for later rollbacks.

    :param registration: register_model's result (a Registration; templated, usually an
        XComArg): whether it promoted, the version, the previous champion.
    :param model_name: the registered model.
    :param mlflow_conn_id: the MLflow connection (the embedded store when it does not exist).
    :param strategy: ``alias``, or ``batch`` (score_batch reads the alias; recorded as such).
    """

    template_fields = ("registration",)
    ui_color = "#e0f0ff"

    def __init__(
        self,
        *,
        registration: Registration | Any,
        model_name: str,
        mlflow_conn_id: str = MLFLOW_CONN_ID,
        strategy: str = "alias",
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.registration = registration
        self.model_name = model_name
        self.mlflow_conn_id = mlflow_conn_id
        self.strategy = strategy

    def execute(self, context) -> Deployment:
        hook, client, version = self._promoted_version()
        deployer = self.deployer()
        served = self._deploying(context, client, version, deployer, deployer.deploy)
        return self._deployed(context, hook, client, version, deployer, served)

    def _promoted_version(self):
        """The MLflow hook, its client and the promoted version, still ``champion``; skips
        when the gate did not promote, fails when another run moved the alias."""
        if not self.registration.get("promoted"):
            raise AirflowSkipException(
                f"version {self.registration.get('version')} was not promoted; "
                "the current champion stays deployed"
            )
        hook = MlflowHook(self.mlflow_conn_id)
        client = hook.get_conn()
        version = str(self.registration["version"])
        serving = holder(client, self.model_name, CHAMPION)
        if serving != version:
            raise AirflowException(
                f"models:/{self.model_name}@{CHAMPION} points at version {serving}, not the "
                f"promoted version {version}; another run moved it — not deploying"
            )
        return hook, client, version

    def _deploying(self, context, client, version: str, deployer: Deployer, step, *args):
        """``step(version, *args)``; when it fails, ``champion`` goes back and the task fails."""
        try:
            return step(version, *args)
        except Exception as exc:
            self._roll_back(client, version, context, exc, deployer.check_name)
            failed = f"{deployer.check_name} of models:/{self.model_name}@{CHAMPION} failed"
            raise AirflowException(f"{failed}, rolled back: {exc}") from exc

    def _deployed(self, context, hook, client, version: str, deployer, served) -> Deployment:
        """Record how the version is served; the task's result."""
        record(client, version, deployer)
        deployed_at = datetime.now(UTC).isoformat(timespec="seconds")
        client.set_model_version_tag(
            self.model_name, version, "airflow_ml.deployed_at", deployed_at
        )
        uri = f"models:/{self.model_name}@{CHAMPION}"
        self.log.info("deployed %s (version %s) at %s", uri, version, deployed_at)
        result: Deployment = {
            "strategy": deployer.strategy,
            "model_uri": uri,
            "version": int(version),
            "deployed_at": deployed_at,
        }
        for where in ("kubernetes", "kserve"):
            if where in served:
                result[where] = served[where]
        self._describe_champion_event(context, client, version, deployed_at)
        self.lineage_result, self.lineage_tracking = result, hook.tracking_uri
        return result

    def get_openlineage_facets_on_complete(self, task_instance):
        """OpenLineage: the registered version in, what serves it out."""
        from airflow_ml_provider.operators import lineage

        deployment, tracking_uri = lineage.kept(self)
        version = f"models:/{self.model_name}/{deployment['version']}"
        return lineage.operator_lineage(
            [lineage.model_dataset(tracking_uri, version)],
            [lineage.serving_dataset(tracking_uri, self.model_name, deployment)],
            lineage.deployment_facets(deployment),
        )

    def _describe_champion_event(self, context, client, version: str, deployed_at: str) -> None:
        """The champion asset's event says which model it is: model, version, its training
        run and that run's metrics, deployment time (a downstream DAG reads it from
        ``triggering_asset_events``)."""
        outlets = [
            o for o in self.outlets if str(getattr(o, "uri", "")).startswith(CHAMPION_SCHEME)
        ]
        if not outlets:
            return
        run_id = client.get_model_version(self.model_name, version).run_id
        metrics = client.get_run(run_id).data.metrics if run_id else {}
        for outlet in outlets:
            context["outlet_events"][outlet].extra = {
                "model": self.model_name,
                "version": int(version),
                "run_id": run_id,
                "metrics": dict(metrics),
                "deployed_at": deployed_at,
            }

    def deployer(self) -> Deployer:
        """The strategy that makes the promoted version serve (here: serving reads the alias)."""
        cls = deployer_class(self.strategy)
        return cls(self.model_name, mlflow_conn_id=self.mlflow_conn_id, log=self.log)

    def _roll_back(self, client, version: str, context, error: Exception, check_name: str) -> None:
        actor = airflow_actor(context)
        reason = f"{check_name} of version {version} failed: {str(error)[:300]}"
        if self.registration.get("previous_champion"):
            restored = rollback(
                client,
                self.model_name,
                to=self.registration["previous_champion"],
                actor=actor,
                reason=reason,
            )
            self.log.error("champion rolled back to version %s", restored["to"])
        else:
            remove_alias(client, self.model_name, CHAMPION, actor=actor, reason=reason)
            self.log.error(
                "no previous champion; alias %s removed from version %s", CHAMPION, version
            )
