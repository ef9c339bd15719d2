"""Which file holds a pipeline id, and which pipeline a model name, when several files claim
the same one.

The file that held it first keeps it: the DAG processor records each holder in the parse
cache folder (``claims.json``) and the newcomer becomes the error DAG — a file that sorts
earlier can no longer take another pipeline's id (or model) and turn the real one into the
error. Without a record (the first pass ever, or no parse cache) the first file in sorted
order holds it. Parse time: stdlib only, one small JSON file.
"""

from __future__ import annotations

import json
import logging
import os
import tempfile
from collections import defaultdict
from pathlib import Path

from airflow_ml_provider.pipeline_spec.errors import SpecError
from airflow_ml_provider.pipeline_spec.loader import LoadedPipeline, problem_at
from airflow_ml_provider.pipeline_spec.positions import load_positioned

log = logging.getLogger(__name__)

CLAIMS_FILE = "claims.json"
_KINDS = {
    "pipeline": (("pipeline",), "pipeline id", "pipeline ids must be unique"),
    "model": (
        ("registry", "model_name"),
        "registered model",
        "a model belongs to one pipeline; choose another registry.model_name",
    ),
}


def read_claims(folder: Path | None) -> dict[str, dict[str, str]]:
    """The recorded holders (``{"pipeline": {id: file}, "model": {name: file}}``)."""
    if folder is None:
        return {}
    try:
        data = json.loads((folder / CLAIMS_FILE).read_text())
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def write_claims(folder: Path | None, claims: dict[str, dict[str, str]]) -> None:
    """Record the holders (atomically; a read-only folder only costs the record)."""
    if folder is None or claims == read_claims(folder):
        return
    try:
        folder.mkdir(parents=True, exist_ok=True)
        handle, temporary = tempfile.mkstemp(dir=folder, prefix=".claims-")
        with os.fdopen(handle, "w") as out:
            json.dump(claims, out, sort_keys=True)
        os.replace(temporary, folder / CLAIMS_FILE)
    except OSError as exc:
        log.warning("could not record pipeline ids in %s: %s", folder, exc)


def settle(
    loaded: list[tuple[Path, LoadedPipeline]], recorded: dict[str, dict[str, str]]
) -> tuple[dict[Path, SpecError], dict[str, dict[str, str]]]:
    """``(errors of the files that lose a claim, the holders to record)`` for ``loaded`` (in
    sorted file order)."""
    claimants: dict[str, dict[str, list[Path]]] = {kind: defaultdict(list) for kind in _KINDS}
    for path, pipeline in loaded:
        claimants["pipeline"][pipeline.dag_id].append(path)
        claimants["model"][pipeline.spec.model_name].append(path)
    errors: dict[Path, SpecError] = {}
    holders: dict[str, dict[str, str]] = {kind: {} for kind in _KINDS}
    for kind, by_name in claimants.items():
        field, what, rule = _KINDS[kind]
        for name, paths in by_name.items():
            before = (recorded.get(kind) or {}).get(name)
            holder = next((p for p in paths if str(p) == before), paths[0])
            holders[kind][name] = str(holder)
            for path in paths:
                if path == holder or path in errors:
                    continue
                where = field if _names(path, field) else ("pipeline",)
                message = f"{what} {name!r} is already used by {holder}; {rule}"
                errors[path] = SpecError([problem_at(load_positioned(path), where, message)])
    return errors, holders


def _names(path: Path, field: tuple[str, ...]) -> bool:
    data = load_positioned(path).data
    for key in field:
        if not isinstance(data, dict) or key not in data:
            return False
        data = data[key]
    return True
