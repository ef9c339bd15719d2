"""A content-hash cache of parsed pipeline files.

Airflow's DAG processor re-imports the loader file every ``min_file_process_interval``
(30 s) in a fresh process, so every pipeline file would be read through the positioned YAML
loader (the slowest step of loading) on every pass. An unchanged file — same bytes, same
defaults.yaml, same ``[ml_provider]`` settings, same values of the variables it may expand —
is read from here instead: the data exactly as the positioned loader produced it (defaults
merged, variables expanded), one small JSON file per pipeline file.

Validation still runs on every load: the allow-lists are enforced there, and a cache file
is never what decides that a pipeline is valid.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from airflow_ml_provider import __version__
from airflow_ml_provider.pipeline_spec.options import LoaderOptions
from airflow_ml_provider.pipeline_spec.positions import MAX_FILE_BYTES

log = logging.getLogger(__name__)

FORMAT = 2
"""Bumped whenever what makes a file valid changes (2: classes, not module prefixes), so
no entry validated under older rules is reused."""
_TAG = "__yaml_timestamp__"


class _NotCacheable(Exception):
    """The data holds a value JSON cannot give back exactly (a set, bytes, a non-text key)."""


def cache_key(
    path: Path, defaults: Path | None, options: LoaderOptions, environ: Mapping[str, str]
) -> str | None:
    """What the parsed data depends on, hashed; None when a file is too big to hash cheaply
    (the loader refuses it anyway)."""
    digest = hashlib.sha256(f"{FORMAT}|{__version__}|{path.resolve()}|{options!r}".encode())
    for file in (path, defaults):
        if file is None:
            digest.update(b"|no-defaults")
            continue
        if file.stat().st_size > MAX_FILE_BYTES:
            return None
        digest.update(b"|" + file.read_bytes())
    for name in sorted(n for n in environ if n.startswith(options.env_prefixes)):
        digest.update(f"|{name}={environ[name]}".encode())
    return digest.hexdigest()


def lookup(folder: Path, path: Path, key: str) -> Any | None:
    """The cached data for ``path`` when its entry was stored under ``key``, else None."""
    try:
        entry = json.loads(_entry(folder, path).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(entry, dict) or entry.get("key") != key:
        return None
    return _decode(entry.get("data"))


def store(folder: Path, path: Path, key: str, data: Any) -> None:
    """Remember ``data`` for ``path`` under ``key`` (atomically; a failure only costs speed)."""
    try:
        text = json.dumps({"key": key, "data": _encode(data)})
    except _NotCacheable:
        return
    entry = _entry(folder, path)
    partial = entry.with_suffix(f".{os.getpid()}.tmp")  # one writer per process and file
    try:
        folder.mkdir(parents=True, exist_ok=True)
        partial.write_text(text, encoding="utf-8")
        os.replace(partial, entry)
    except OSError as exc:
        log.debug("parse cache not written for %s: %s", path, exc)


def _entry(folder: Path, path: Path) -> Path:
    # One entry per pipeline file, overwritten when it changes: the cache never grows
    # beyond the number of files.
    return folder / (hashlib.sha256(str(path.resolve()).encode()).hexdigest()[:32] + ".json")


def _encode(value: Any) -> Any:
    if isinstance(value, dict):
        if _TAG in value or not all(isinstance(key, str) for key in value):
            raise _NotCacheable
        return {key: _encode(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_encode(item) for item in value]
    if isinstance(value, dt.datetime | dt.date):
        return {_TAG: value.isoformat(), "datetime": isinstance(value, dt.datetime)}
    if value is None or isinstance(value, str | int | float):  # bool is an int
        return value
    raise _NotCacheable


def _decode(value: Any) -> Any:
    if isinstance(value, dict):
        if _TAG in value:
            kind = dt.datetime if value.get("datetime") else dt.date
            return kind.fromisoformat(value[_TAG])
        return {key: _decode(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_decode(item) for item in value]
    return value
