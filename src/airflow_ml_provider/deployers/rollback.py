"""A rollback that reaches serving: champion back, then the deployer serves that version
again and checks it — or champion goes forward again and the rollback is refused."""

from __future__ import annotations

from typing import Any, cast

from airflow_ml_provider.core.contracts import Rollback
from airflow_ml_provider.core.errors import DeploymentFailed
from airflow_ml_provider.deployers import record
from airflow_ml_provider.deployers.base import Deployer
from airflow_ml_provider.ml.integrity.model_files import ModelIntegrityError
from airflow_ml_provider.ml.registry.aliases import (
    rollback,
    rollback_target,
    smoke_test,
    undo_rollback,
)


class ServingRollbackFailed(DeploymentFailed):
    """The champion alias moved back, but serving could not follow; the alias was restored."""


def roll_back_serving(
    client: Any, deployer: Deployer, *, to: str | int | None, actor: str, reason: str
) -> Rollback:
    """Give ``champion`` back to ``previous`` (or to version ``to``), make the deployer serve
    it and check it answers; the target version is verified and loaded before anything moves
    (``ml.integrity.model_files``). Returns ``{model, from, to, strategy, ...what the deployer
    did}``.

    When serving cannot follow, the deployer has already put serving back to what it was;
    the alias goes back too and ServingRollbackFailed says both. RegistryError when the
    rollback is not possible at all (nothing moved).
    """
    current, target = rollback_target(client, deployer.model_name, to)
    # Verified, loaded and asked to predict before champion moves: a tampered, unverifiable
    # or broken version is refused while the current champion still serves.
    try:
        checked = smoke_test(f"models:/{deployer.model_name}/{target}")
    except ModelIntegrityError:
        raise
    except Exception as error:
        raise ServingRollbackFailed(
            f"{deployer.strategy} serving of {deployer.model_name} could not roll back to "
            f"version {target}: it does not load or does not predict on its input example "
            f"({error}); nothing moved: champion stays "
            f"{'version ' + current if current else 'unset'}"
        ) from error
    done = rollback(client, deployer.model_name, to=target, actor=actor, reason=reason)
    try:
        served = deployer.rollback(done["to"])
    except Exception as error:
        undo_rollback(client, done, actor=actor, reason=f"serving did not follow: {error}"[:300])
        restored = (
            f"champion restored to version {done['from']}"
            if done["from"]
            else "champion removed again"
        )
        raise ServingRollbackFailed(
            f"{deployer.strategy} serving of {deployer.model_name} could not roll back to "
            f"version {done['to']}: {error}; {restored}"
        ) from error
    record(client, done["to"], deployer)
    return cast(Rollback, {**done, "strategy": deployer.strategy, "checked": checked, **served})
