"""What the MLflow registry knows about the pipelines' models: versions, aliases, the alias
history and each version's metrics — read fresh on every request (a champion is never shown
from a cache), in a fixed number of calls per tracking server.

Only the MLflow clients (one per tracking URI) and the experiment ids of experiment names
are kept between requests; neither changes when a model is promoted.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from airflow_ml_provider.ml.registry.aliases import CHAMPION, PIPELINE_MODEL_TAG, history_of

MAX_VERSIONS = 200
FEW_MODELS = 3  # up to this many, each model is read directly instead of searched for

_experiment_ids: dict[tuple[str, str], str | None] = {}


@dataclass
class VersionInfo:
    """One registered model version and the metrics of the run that produced it."""

    version: int
    run_id: str | None
    created: datetime | None
    aliases: list[str]
    gate: str | None
    metrics: dict[str, float] = field(default_factory=dict)
    experiment_id: str | None = None


@dataclass
class ModelState:
    """A registered model as the pages show it (empty ``versions`` before the first run)."""

    name: str
    versions: list[VersionInfo] = field(default_factory=list)
    history: list[dict[str, Any]] = field(default_factory=list)

    @property
    def champion(self) -> VersionInfo | None:
        return next((v for v in self.versions if CHAMPION in v.aliases), None)

    @property
    def last_promoted(self) -> datetime | None:
        """When ``champion`` last moved (from the recorded alias history)."""
        moves = [row for row in self.history if row.get("alias") == CHAMPION and row.get("to")]
        return _parse_time(moves[-1]["at"]) if moves else None


def model_states(
    client, models: dict[str, str], *, all_metrics: bool = False
) -> dict[str, ModelState]:
    """``{model name: ModelState}`` for ``models`` (model name -> experiment name).

    Metrics are read for the champions only, or for every version with ``all_metrics``.
    """
    if not models:
        return {}
    names = ", ".join(_quoted(name) for name in models)
    states = {name: ModelState(name) for name in models}
    found: dict[str, list[Any]] = {name: [] for name in models}
    for mv in client.search_model_versions(f"name IN ({names})", max_results=10_000):
        if mv.name in found:
            found[mv.name].append(mv)
    aliases = _aliases(client, [name for name, versions in found.items() if versions])
    for mv in (mv for versions in found.values() for mv in versions):
        states[mv.name].versions.append(
            VersionInfo(
                version=int(mv.version),
                run_id=mv.run_id,
                created=_from_millis(mv.creation_timestamp),
                aliases=sorted(aliases[mv.name].get(int(mv.version), [])),
                gate=None,
            )
        )
    for name, state in states.items():
        state.versions.sort(key=lambda v: v.version)
        state.versions = state.versions[-MAX_VERSIONS:]
        state.history = history_of(found[name])
    wanted = [
        (name, v)
        for name, state in states.items()
        for v in (state.versions if all_metrics else [state.champion])
        if v is not None and v.run_id
    ]
    _attach_runs(client, models, wanted)
    return states


def _aliases(client, names: list[str]) -> dict[str, dict[int, list[str]]]:
    """{model: {version: [aliases]}}. Searching versions does not return their aliases; one
    search finds every model our register_model tagged, the rest are read one by one."""
    from mlflow.exceptions import MlflowException

    wanted = set(names)
    found: dict[str, dict[str, Any]] = {}
    token = None
    while len(wanted) > FEW_MODELS:
        page = client.search_registered_models(
            filter_string=f"tags.`{PIPELINE_MODEL_TAG}` LIKE '%'",
            max_results=1000,
            page_token=token,
        )
        found.update((m.name, m.aliases or {}) for m in page if m.name in wanted)
        token = page.token
        if not token:
            break
    for name in wanted - set(found):
        try:
            found[name] = client.get_registered_model(name).aliases or {}
        except MlflowException:
            found[name] = {}
    by_version: dict[str, dict[int, list[str]]] = {name: {} for name in names}
    for name, model_aliases in found.items():
        for alias, version in model_aliases.items():
            by_version[name].setdefault(int(version), []).append(alias)
    return by_version


def run_table(client, run_id: str, path: str) -> list[dict[str, Any]]:
    """A CSV table logged on a run (per-partition metrics, the gate's per-partition
    comparison), numbers typed; empty when the run has none."""
    from mlflow.exceptions import MlflowException

    try:
        local = client.download_artifacts(run_id, path)
    except (MlflowException, OSError):
        return []
    with open(local, newline="") as handle:
        return [_typed(row) for row in csv.DictReader(io.StringIO(handle.read()))]


def _attach_runs(client, models: dict[str, str], wanted: list[tuple[str, VersionInfo]]) -> None:
    if not wanted:
        return
    experiments = {
        exp_id for name, _ in wanted if (exp_id := _experiment_id(client, models[name])) is not None
    }
    by_run = {v.run_id: v for _, v in wanted if v.run_id}
    ids = ", ".join(_quoted(run_id) for run_id in by_run)
    if not experiments:
        return
    runs = client.search_runs(
        sorted(experiments), f"attributes.run_id IN ({ids})", max_results=len(by_run)
    )
    for run in runs:
        version = by_run.get(run.info.run_id)
        if version is not None:
            version.metrics = dict(run.data.metrics)
            version.gate = run.data.tags.get("airflow_ml.gate")
            version.experiment_id = run.info.experiment_id


def _experiment_id(client, name: str) -> str | None:
    key = (client.tracking_uri, name)
    if _experiment_ids.get(key) is None:
        experiment = client.get_experiment_by_name(name)
        _experiment_ids[key] = experiment.experiment_id if experiment else None
    return _experiment_ids[key]


def _quoted(text: str) -> str:
    return "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"


def _from_millis(millis: int | None) -> datetime | None:
    return datetime.fromtimestamp(millis / 1000, tz=UTC) if millis else None


def _parse_time(text: str | None) -> datetime | None:
    try:
        return datetime.fromisoformat(text) if text else None
    except ValueError:
        return None


def _typed(row: dict[str, str]) -> dict[str, Any]:
    """CSV text back to numbers (ints stay ints); the key, status and reason stay text."""
    typed: dict[str, Any] = {}
    for key, value in row.items():
        typed[key] = value if key in ("partition", "status", "reason") else _number(value)
    return typed


def _number(text: str | None) -> Any:
    if text in ("", None):
        return None
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            continue
    return text
