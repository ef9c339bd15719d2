"""deploy_model: make the promoted version the one serving reads, or skip when not promoted."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from airflow.sdk import BaseOperator
from airflow.sdk.exceptions import AirflowException, AirflowSkipException

from airflow_ml_provider.core.connections import MLFLOW_CONN_ID
from airflow_ml_provider.hooks.mlflow import MlflowHook
from airflow_ml_provider.ml.registry import CHAMPION, holder, remove_alias, rollback, smoke_test
from airflow_ml_provider.operators.registry import airflow_actor


class AliasDeploymentOperator(BaseOperator):
    """Deployment strategy ``alias``: serving reads ``models:/<name>@champion``.

    Skips (not fails) when the gate did not promote. Otherwise it checks that the alias
    points at the promoted version, loads the model through the alias and predicts on its
    stored input example (a smoke test). If the smoke test fails, ``champion`` is moved
    back to ``previous`` so users never get a model that cannot serve.

    :param registration: register_model's result (a Registration; templated, usually an
        XComArg): whether it promoted, the version, the previous champion.
    :param model_name: the registered model.
    :param mlflow_conn_id: the MLflow connection (the embedded store when it does not exist).
    """

    template_fields = ("registration",)
    ui_color = "#e0f0ff"

    def __init__(
        self,
        *,
        registration: dict[str, Any] | Any,
        model_name: str,
        mlflow_conn_id: str = MLFLOW_CONN_ID,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.registration = registration
        self.model_name = model_name
        self.mlflow_conn_id = mlflow_conn_id

    def execute(self, context) -> dict[str, Any]:
        if not self.registration.get("promoted"):
            raise AirflowSkipException(
                f"version {self.registration.get('version')} was not promoted; "
                "the current champion stays deployed"
            )
        client = MlflowHook(self.mlflow_conn_id).get_conn()
        version = str(self.registration["version"])
        uri = f"models:/{self.model_name}@{CHAMPION}"
        serving = holder(client, self.model_name, CHAMPION)
        if serving != version:
            raise AirflowException(
                f"{uri} points at version {serving}, not the promoted version {version}; "
                "another run moved it — not deploying"
            )
        try:
            served = self.serve(context, version)
        except Exception as exc:
            self._roll_back(client, version, context, exc)
            failed = f"{self.check_name} of {uri} failed"
            raise AirflowException(f"{failed}, rolled back: {exc}") from exc
        deployed_at = datetime.now(UTC).isoformat(timespec="seconds")
        client.set_model_version_tag(
            self.model_name, version, "airflow_ml.deployed_at", deployed_at
        )
        self.log.info("deployed %s (version %s) at %s", uri, version, deployed_at)
        return {
            "strategy": self.strategy,
            "model_uri": uri,
            "version": int(version),
            "deployed_at": deployed_at,
            **served,
        }

    strategy = "alias"
    check_name = "smoke test"
    """What failed, in the error and the history's reason, when ``serve`` raises."""

    def serve(self, context, version: str) -> dict[str, Any]:
        """Make ``version`` (already ``champion``) serve; raise if it cannot. Subclasses
        deploy it somewhere; here serving reads the alias, so loading it through the alias
        and predicting on its input example is the whole deployment."""
        smoke_test(f"models:/{self.model_name}@{CHAMPION}")
        return {}

    def _roll_back(self, client, version: str, context, error: Exception) -> None:
        actor = airflow_actor(context)
        reason = f"{self.check_name} of version {version} failed: {str(error)[:300]}"
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
