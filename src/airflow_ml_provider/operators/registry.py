"""register_model: one model version per training run, aliases instead of stages."""

from __future__ import annotations

import contextlib
import io
import logging
from typing import Any

from airflow.sdk import BaseOperator

from airflow_ml_provider.core.connections import KUBERNETES_CONN_ID, MLFLOW_CONN_ID
from airflow_ml_provider.core.contracts import (
    Approval,
    GateDecision,
    Registration,
    Rollback,
    TrainingResult,
)
from airflow_ml_provider.hooks.mlflow import MlflowHook
from airflow_ml_provider.ml.registry.aliases import (
    CHALLENGER,
    UNCHECKED,
    ChampionMoved,
    move_alias,
    promote,
)
from airflow_ml_provider.ml.registry.ownership import claim_model
from airflow_ml_provider.operators.links import ModelVersionLink, record_link

log = logging.getLogger(__name__)


def airflow_actor(context) -> str:
    """Who moved an alias, as recorded in the history: ``airflow:<dag_id>/<run_id>``."""
    return f"airflow:{context['dag'].dag_id}/{context['run_id']}"


def find_or_create_version(client, model_name: str, training: TrainingResult, tags: dict[str, str]):
    """The version registered from this training run; created only if there is none yet."""
    import mlflow

    existing = client.search_model_versions(
        f"name='{model_name}' and run_id='{training['run_id']}'"
    )
    if existing:
        return min(existing, key=lambda v: int(v.version)), False
    # register_model prints what it did to stderr, which Airflow's task supervisor logs at
    # error level: its lines go to the log at info instead.
    printed = io.StringIO()
    with contextlib.redirect_stderr(printed):
        version = mlflow.register_model(training["model_uri"], model_name, tags=tags)
    for line in printed.getvalue().splitlines():
        if line.strip():
            log.info("%s", line.strip())
    return version, True


class RegisterModelOperator(BaseOperator):
    """Register the challenger and, if the gate said so, promote it.

    The registered model belongs to the pipeline that first registered it (its
    ``airflow_ml.dag_id`` tag): another pipeline naming it fails here, before it registers or
    promotes anything. Idempotent: re-running the task in the same DAG run finds the version
    registered from the same MLflow run instead of creating another. Sets alias
    ``challenger``; on promotion moves ``previous`` to the old champion first and then
    ``champion`` to the new version (a retry after a failure in between converges to the same
    state).

    :param training: train_model's result (a TrainingResult; templated, usually an XComArg).
    :param decision: evaluate_model's result (a GateDecision; templated): promote or not, and
        the champion version it judged against (promotion is a compare-and-set on it).
    :param model_name: the registered model.
    :param pipeline: the pipeline id, tagged on the version (``airflow_ml.pipeline``).
    :param extra_tags: more tags for the model version.
    :param mlflow_conn_id: the MLflow connection (the embedded store when it does not exist).
    :param approval: approve_promotion's result (templated), when a person decides.
    """

    template_fields = ("training", "decision", "approval")
    operator_extra_links = (ModelVersionLink(),)
    ui_color = "#fff4d6"

    def __init__(
        self,
        *,
        training: TrainingResult | Any,
        decision: GateDecision | Any,
        model_name: str,
        pipeline: str | None = None,
        extra_tags: dict[str, str] | None = None,
        mlflow_conn_id: str = MLFLOW_CONN_ID,
        approval: Approval | Any = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.approval = approval
        self.training = training
        self.decision = decision
        self.model_name = model_name
        self.pipeline = pipeline
        self.extra_tags = extra_tags or {}
        self.mlflow_conn_id = mlflow_conn_id

    def execute(self, context) -> Registration:
        hook = MlflowHook(self.mlflow_conn_id)
        client = hook.get_conn()
        should_promote = bool(self.decision["promote"])
        reason = str(self.decision.get("reason", ""))
        approval = self.approval or {}
        if approval.get("asked") and not approval.get("approved"):
            should_promote = False
            reason = (
                "the gate passed but nobody answered the approval request in time"
                if approval.get("timed_out")
                else f"the gate passed but {approval.get('by', 'a reviewer')} rejected promotion"
            )
        elif self.decision.get("needs_approval") and approval.get("approved"):
            should_promote = True
            reason = f"first model; thresholds hold; approved by {approval.get('by')}"
        tags = {
            "airflow_ml.dag_id": context["dag"].dag_id,
            "airflow_ml.dag_run_id": context["run_id"],
            # "promote" only once champion has moved (below): a task killed in between leaves
            # "pending", never a promotion that did not happen.
            "airflow_ml.gate": "pending" if should_promote else "reject",
            "airflow_ml.gate_reason": reason[:4000],
            **{k: str(v) for k, v in self.extra_tags.items()},
        }
        if self.pipeline:
            tags["airflow_ml.pipeline"] = self.pipeline
        run_tags = client.get_run(self.training["run_id"]).data.tags
        for key in ("airflow_ml.data_sha256", "airflow_ml.config_hash"):
            if key in run_tags:
                tags[key] = run_tags[key]
        # Before anything is written: another pipeline's model is refused (ml.registry.ownership).
        claim_model(client, self.model_name, context["dag"].dag_id)
        version, created = find_or_create_version(client, self.model_name, self.training, tags)
        number = str(version.version)
        self.log.info(
            "%s version %s of %s", "registered" if created else "found", number, self.model_name
        )
        for key, value in tags.items():
            client.set_model_version_tag(self.model_name, number, key, value)
        actor = airflow_actor(context)
        if approval.get("approved"):
            actor += f" approved by {approval.get('by')}"
        move_alias(client, self.model_name, CHALLENGER, number, actor=actor, reason=reason)
        previous = None
        if should_promote:
            try:
                previous = promote(
                    client,
                    self.model_name,
                    number,
                    actor=actor,
                    reason=reason,
                    judged_against=self.decision.get("champion_version", UNCHECKED),
                )
            except ChampionMoved as exc:
                self.log.warning("%s", exc)
                should_promote, reason = False, str(exc)
                client.set_model_version_tag(
                    self.model_name, number, "airflow_ml.gate_reason", reason[:4000]
                )
                client.set_model_version_tag(self.model_name, number, "airflow_ml.gate", "reject")
        if should_promote:
            client.set_model_version_tag(self.model_name, number, "airflow_ml.promoted_by", actor)
            client.set_model_version_tag(self.model_name, number, "airflow_ml.gate", "promote")
            self.log.info(
                "champion of %s is now version %s (previous: %s)", self.model_name, number, previous
            )
        aliases = sorted(client.get_model_version(self.model_name, number).aliases)
        url = hook.model_version_url(self.model_name, number)
        if url:
            record_link(self, context, ModelVersionLink.key, url)
        self.lineage_tracking = hook.tracking_uri
        self.lineage_result: Registration = {
            "name": self.model_name,
            "version": int(number),
            "created": created,
            "aliases": aliases,
            "promoted": should_promote,
            "reason": reason,
            "previous_champion": int(previous) if previous else None,
        }
        return self.lineage_result

    def get_openlineage_facets_on_complete(self, task_instance):
        """OpenLineage: the training run's model in, the model version out; the metrics and
        the gate decision as run facets."""
        from airflow_ml_provider.operators import lineage

        registration, tracking_uri = lineage.kept(self)
        version = f"models:/{self.model_name}/{registration['version']}"
        return lineage.operator_lineage(
            [lineage.model_dataset(tracking_uri, self.training["model_uri"])],
            [lineage.model_dataset(tracking_uri, version)],
            lineage.gate_facets(self.decision, registration["promoted"], registration["reason"]),
        )


class SetModelAliasOperator(BaseOperator):
    """Point ``alias`` of ``model_name`` at ``version`` (recorded in the alias history).

    Returns ``{model, alias, version, moved}``; ``moved`` is False when the alias already
    pointed there (a retry changes nothing).

    :param model_name: the registered model.
    :param alias: the alias to move (e.g. ``staging``).
    :param version: the version it should point at (templated).
    :param reason: why, recorded in the alias history (templated).
    :param mlflow_conn_id: the MLflow connection (the embedded store when it does not exist).
    """

    template_fields = ("version", "reason")
    ui_color = "#fff4d6"

    def __init__(
        self,
        *,
        model_name: str,
        alias: str,
        version: int | str,
        reason: str = "set by a DAG",
        mlflow_conn_id: str = MLFLOW_CONN_ID,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.model_name, self.alias, self.version = model_name, alias, version
        self.reason, self.mlflow_conn_id = reason, mlflow_conn_id

    def execute(self, context) -> dict[str, Any]:
        client = MlflowHook(self.mlflow_conn_id).get_conn()
        moved = move_alias(
            client,
            self.model_name,
            self.alias,
            self.version,
            actor=airflow_actor(context),
            reason=self.reason,
        )
        return {
            "model": self.model_name,
            "alias": self.alias,
            "version": int(self.version),
            "moved": moved is not None,
        }


class PromoteModelOperator(BaseOperator):
    """Make ``version`` the ``champion`` (``previous`` moves to the old champion first).

    Returns ``{model, version, previous_champion}``.

    :param model_name: the registered model.
    :param version: the version to promote (templated).
    :param reason: why, recorded in the alias history (templated).
    :param mlflow_conn_id: the MLflow connection (the embedded store when it does not exist).
    """

    template_fields = ("version", "reason")
    ui_color = "#fff4d6"

    def __init__(
        self,
        *,
        model_name: str,
        version: int | str,
        reason: str = "promoted by a DAG",
        mlflow_conn_id: str = MLFLOW_CONN_ID,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.model_name, self.version = model_name, version
        self.reason, self.mlflow_conn_id = reason, mlflow_conn_id

    def execute(self, context) -> dict[str, Any]:
        client = MlflowHook(self.mlflow_conn_id).get_conn()
        old = promote(
            client, self.model_name, self.version, actor=airflow_actor(context), reason=self.reason
        )
        return {
            "model": self.model_name,
            "version": int(self.version),
            "previous_champion": int(old) if old else None,
        }


class RollbackModelOperator(BaseOperator):
    """Give ``champion`` back to ``previous`` (or to version ``to``) and make serving follow:
    the deployer recorded on the champion at its deployment (deployers) serves the restored
    version again — for ``kubernetes`` the Deployment goes back to that version's pods — and
    checks that it answers; for ``alias`` / ``batch`` the model is loaded through the alias
    and predicts on its input example. If serving cannot follow, the alias goes back too and
    the task fails saying so. Returns ``{model, from, to, strategy, ...}``.

    :param model_name: the registered model.
    :param to: the version to give ``champion`` to (templated); ``previous`` when None.
    :param reason: why, recorded in the alias history (templated).
    :param mlflow_conn_id: the MLflow connection (the embedded store when it does not exist).
    :param kubernetes_conn_id: the cluster connection, when the model is served there.
    """

    template_fields = ("to", "reason")
    ui_color = "#ffe4e1"

    def __init__(
        self,
        *,
        model_name: str,
        to: int | str | None = None,
        reason: str = "rolled back by a DAG",
        mlflow_conn_id: str = MLFLOW_CONN_ID,
        kubernetes_conn_id: str = KUBERNETES_CONN_ID,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.model_name, self.to = model_name, to
        self.reason, self.mlflow_conn_id = reason, mlflow_conn_id
        self.kubernetes_conn_id = kubernetes_conn_id

    def execute(self, context) -> Rollback:
        from airflow.sdk.exceptions import AirflowException

        from airflow_ml_provider.core.errors import DeploymentFailed
        from airflow_ml_provider.deployers import recorded_deployer
        from airflow_ml_provider.deployers.rollback import roll_back_serving
        from airflow_ml_provider.ml.registry.aliases import CHAMPION, RegistryError, holder

        client = MlflowHook(self.mlflow_conn_id).get_conn()
        deployer = recorded_deployer(
            client,
            self.model_name,
            holder(client, self.model_name, CHAMPION),
            {"kubernetes": self.kubernetes_conn_id},
            mlflow_conn_id=self.mlflow_conn_id,
            log=self.log,
        )
        try:
            done = roll_back_serving(
                client, deployer, to=self.to, actor=airflow_actor(context), reason=self.reason
            )
        except (RegistryError, DeploymentFailed) as exc:
            raise AirflowException(str(exc)) from None
        self.log.info(
            "champion of %s: %s -> %s (%s serving)",
            self.model_name, done["from"], done["to"], done["strategy"],
        )  # fmt: skip
        return done
