"""Aliases with a memory: every move of champion / challenger / previous is recorded.

A move is recorded as a tag on the model version that received the alias (or lost it, when
an alias is removed): key ``airflow_ml.alias_history.<UTC timestamp>.<alias>``, value JSON
``{at, alias, from, to, actor, reason}``. Tags are never rewritten, so the history is
append-only and lives in the registry itself — ``history()`` reads it back in time order.
No Airflow imports: the operators, the CLI and a notebook use the same functions.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from airflow_ml_provider.core.errors import AirflowMlError

CHAMPION, CHALLENGER, PREVIOUS = "champion", "challenger", "previous"
HISTORY_PREFIX = "airflow_ml.alias_history."
# Registered-model tag: the DAG whose runs register this model (lets the UI find every
# pipeline model with one search).
PIPELINE_MODEL_TAG = "airflow_ml.dag_id"


class RegistryError(AirflowMlError, ValueError):
    """A registry operation that cannot be done as asked (the message says why)."""


def holder(client, model_name: str, alias: str) -> str | None:
    """The version number holding ``alias``, or None (no such alias or model)."""
    from mlflow.exceptions import MlflowException

    try:
        return str(client.get_model_version_by_alias(model_name, alias).version)
    except MlflowException as exc:
        if exc.error_code in ("RESOURCE_DOES_NOT_EXIST", "INVALID_PARAMETER_VALUE"):
            return None
        raise


def _record(client, model_name: str, version: str, record: dict[str, Any]) -> None:
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S.%fZ")
    record = {"at": datetime.now(UTC).isoformat(timespec="seconds"), **record}
    client.set_model_version_tag(
        model_name, version, f"{HISTORY_PREFIX}{stamp}.{record['alias']}", json.dumps(record)
    )


def move_alias(
    client, model_name: str, alias: str, version: str | int, *, actor: str, reason: str
) -> dict[str, Any] | None:
    """Point ``alias`` at ``version`` and record the move; None when it already points there
    (so retries and cleared tasks do not add history)."""
    version = str(version)
    current = holder(client, model_name, alias)
    if current == version:
        return None
    client.set_registered_model_alias(model_name, alias, version)
    record = {"alias": alias, "from": current, "to": version, "actor": actor, "reason": reason}
    _record(client, model_name, version, {**record, "reason": reason[:1000]})
    return record


def remove_alias(
    client, model_name: str, alias: str, *, actor: str, reason: str
) -> dict[str, Any] | None:
    """Remove ``alias`` (recorded on the version that held it); None when nobody held it."""
    current = holder(client, model_name, alias)
    if current is None:
        return None
    client.delete_registered_model_alias(model_name, alias)
    record = {"alias": alias, "from": current, "to": None, "actor": actor, "reason": reason}
    _record(client, model_name, current, {**record, "reason": reason[:1000]})
    return record


class ChampionMoved(RegistryError):
    """The champion is no longer the version the gate judged against."""


UNCHECKED = object()
"""promote()'s judged_against when nothing is known about what the gate compared with."""


def promote(
    client,
    model_name: str,
    version: str | int,
    *,
    actor: str,
    reason: str,
    judged_against: object = UNCHECKED,
) -> str | None:
    """Make ``version`` the champion: ``previous`` moves to the old champion first, so a
    failure in between leaves the old champion serving. Returns the old champion's number.

    With ``judged_against`` (the champion version the gate compared with, None for no
    champion) this is a compare-and-set: when the champion has moved since — another run
    promoted, or a person rolled back — nothing moves and ChampionMoved says so, because
    ``version`` was never compared with the champion it would replace. A retry of the
    same promotion (``version`` already champion) is not a move."""
    version = str(version)
    old = holder(client, model_name, CHAMPION)
    expected = None if judged_against is None else str(judged_against)
    if judged_against is not UNCHECKED and old not in (expected, version):
        raise ChampionMoved(
            f"the champion of {model_name} is version {old}, not "
            f"{'no version' if expected is None else 'version ' + expected} as when the gate "
            f"judged version {version}: not promoted (the next run is judged against "
            f"version {old})"
        )
    if old is not None and old != version:
        move_alias(
            client, model_name, PREVIOUS, old, actor=actor, reason=f"replaced by version {version}"
        )
    move_alias(client, model_name, CHAMPION, version, actor=actor, reason=reason)
    return old if old != version else None


def rollback(
    client, model_name: str, *, to: str | int | None = None, actor: str, reason: str
) -> dict[str, Any]:
    """Give ``champion`` back to ``previous`` (or to version ``to``) in one step.

    The version rolled back from is tagged ``airflow_ml.rolled_back_at``; ``previous`` is
    removed when it pointed at the restored version (it is the champion now).
    """
    current, target = rollback_target(client, model_name, to)
    move_alias(client, model_name, CHAMPION, target, actor=actor, reason=f"rollback: {reason}")
    previous_removed = holder(client, model_name, PREVIOUS) == target
    if previous_removed:
        remove_alias(
            client, model_name, PREVIOUS, actor=actor, reason=f"version {target} is champion again"
        )
    if current is not None:
        client.set_model_version_tag(
            model_name, current, "airflow_ml.rolled_back_at", datetime.now(UTC).isoformat()
        )
    return {
        "model": model_name,
        "from": current,
        "to": target,
        "previous_removed": previous_removed,
    }


def rollback_target(client, model_name: str, to: str | int | None) -> tuple[str | None, str]:
    """``(current champion, version a rollback gives champion to)``: ``to``, or ``previous``;
    RegistryError when there is none, it is the champion already or it does not exist."""
    current = holder(client, model_name, CHAMPION)
    target = str(to) if to is not None else holder(client, model_name, PREVIOUS)
    if target is None:
        raise RegistryError(
            f"{model_name} has no 'previous' version to roll back to; pass a version with --to"
        )
    if target == current:
        raise RegistryError(f"version {target} of {model_name} is already the champion")
    existing = {str(v.version) for v in client.search_model_versions(f"name='{model_name}'")}
    if target not in existing:
        known = ", ".join(sorted(existing, key=int)) or "none"
        raise RegistryError(f"{model_name} has no version {target} (versions: {known})")
    return current, target


def undo_rollback(client, done: dict[str, Any], *, actor: str, reason: str) -> None:
    """Put the aliases back as they were before ``rollback`` returned ``done``."""
    model_name = done["model"]
    if done["from"] is None:
        remove_alias(client, model_name, CHAMPION, actor=actor, reason=reason)
    else:
        move_alias(client, model_name, CHAMPION, done["from"], actor=actor, reason=reason)
        client.delete_model_version_tag(model_name, done["from"], "airflow_ml.rolled_back_at")
    if done.get("previous_removed"):
        move_alias(client, model_name, PREVIOUS, done["to"], actor=actor, reason=reason)


def history(client, model_name: str) -> list[dict[str, Any]]:
    """Every recorded alias move of the model, oldest first."""
    return history_of(client.search_model_versions(f"name='{model_name}'"))


def history_of(versions) -> list[dict[str, Any]]:
    """The alias moves recorded on these model versions (one model's), oldest first."""
    rows = []
    for version in versions:
        for key, value in (version.tags or {}).items():
            if key.startswith(HISTORY_PREFIX):
                rows.append((key.removeprefix(HISTORY_PREFIX), json.loads(value)))
    return [record for _, record in sorted(rows, key=lambda row: row[0])]


SMOKE_PREDICTED = "loads and predicts on its input example"
SMOKE_LOADED_ONLY = "loads (it has no input example to predict on)"


def smoke_test(model_uri: str) -> str:
    """Load ``model_uri`` (verified, ml.integrity.model_files) the way serving does and predict
    on its
    logged input example; returns what was checked (SMOKE_PREDICTED or SMOKE_LOADED_ONLY)."""
    import mlflow.pyfunc

    from airflow_ml_provider.ml.integrity.model_files import verified_copy

    with verified_copy(model_uri) as local:
        model = mlflow.pyfunc.load_model(local)
        example = model.input_example
        if example is None:
            return SMOKE_LOADED_ONLY
        model.predict(example)
        return SMOKE_PREDICTED


def serving_input(model_uri: str) -> str | None:
    """The JSON request body MLflow stored for the model's input example (what a model
    server's ``/invocations`` accepts), or None when the model has no input example."""
    from mlflow.artifacts import download_artifacts
    from mlflow.exceptions import MlflowException

    try:
        path = download_artifacts(artifact_uri=f"{model_uri}/serving_input_example.json")
    except (MlflowException, OSError):
        return None
    return Path(path).read_text()


def format_history(model_name: str, rows: list[dict[str, Any]]) -> str:
    """The history as a table for the terminal."""
    if not rows:
        return f"no recorded alias moves for {model_name}"
    lines = [f"{'when (UTC)':<26}{'alias':<12}{'from':>5} -> {'to':<5} {'by':<40} why"]
    for row in rows:
        lines.append(
            f"{row['at']:<26}{row['alias']:<12}{row['from'] or '-':>5} -> {row['to'] or '-':<5} "
            f"{row['actor']:<40} {row['reason']}"
        )
    return "\n".join(lines)
