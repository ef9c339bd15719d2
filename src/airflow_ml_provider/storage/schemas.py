"""Versioned inferred schemas of a pipeline in the artifact store: schema-v1.json, v2, ..."""

from __future__ import annotations

import json
import re
from typing import Any

from airflow.sdk import ObjectStoragePath

_VERSION = re.compile(r"^schema-v(\d+)\.json$")


class SchemaStore:
    """The schema versions of one pipeline under ``<root>/schemas/<pipeline>/``."""

    def __init__(self, root: str, pipeline: str) -> None:
        self.folder = ObjectStoragePath(root) / "schemas" / pipeline

    def versions(self) -> list[int]:
        if not self.folder.exists():
            return []
        found = (_VERSION.match(path.name) for path in self.folder.iterdir())
        return sorted(int(match.group(1)) for match in found if match)

    def latest(self) -> tuple[int, str, dict[str, Any]] | None:
        """(version, uri, schema) of the newest version, or None before the first pass."""
        versions = self.versions()
        if not versions:
            return None
        path = self.folder / f"schema-v{versions[-1]}.json"
        return versions[-1], str(path), json.loads(path.read_text())

    def add(self, schema: dict[str, Any]) -> tuple[int, str]:
        """Store ``schema`` as the next version; never overwrites an existing one."""
        version = (self.versions() or [0])[-1] + 1
        path = self.folder / f"schema-v{version}.json"
        self.folder.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(schema, indent=2, sort_keys=True))
        return version, str(path)


def load_pinned_schema(uri: str) -> dict[str, Any]:
    """A reviewed schema file (YAML or JSON, the inferred format) named in the pipeline."""
    import yaml

    data = yaml.safe_load(ObjectStoragePath(uri).read_text())
    if not isinstance(data, dict) or not isinstance(data.get("columns"), dict):
        raise ValueError(f"{uri} is not a schema file: expected a mapping with 'columns'")
    return data


SCHEMA_SUFFIXES = (".json", ".yaml", ".yml")


def schema_of(uri: str) -> dict[str, Any]:
    """A schema file as it is, or the schema inferred from a csv/parquet data snapshot."""
    from airflow_ml_provider.core.formats import format_of
    from airflow_ml_provider.ml.data.schema import infer_schema
    from airflow_ml_provider.storage.frames import read_stored_frame

    if uri.lower().endswith(SCHEMA_SUFFIXES):
        return load_pinned_schema(uri)
    return infer_schema(read_stored_frame(uri, format_of(uri) or "parquet"))
