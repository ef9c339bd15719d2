"""JSON Schema of pipeline files, for editors (yaml-language-server) and CI.

pydantic generates it from the models; what the models accept through a ``mode="before"``
shorthand (a column's plain type name, ``baseline: false``, one ``join_on`` column) is added
here, so the schema accepts every file the loader accepts."""

from __future__ import annotations

from typing import Any, get_args

from airflow_ml_provider import __version__
from airflow_ml_provider.core.features import FeatureType
from airflow_ml_provider.pipeline_spec.models import PipelineSpec

SCHEMA_ID = f"urn:airflow-ml-provider:pipeline:{__version__}"
SHORTHANDS: dict[str, dict[str, Any]] = {
    "ColumnSpec": {"type": "string", "enum": list(get_args(FeatureType))},
    "BaselineSpec": {"type": "boolean"},
}
"""Definitions YAML may also give as a plain value (see the models' before-validators)."""
ONE_OR_MANY = ("join_on",)
"""List fields that also take one string."""


def json_schema() -> dict[str, Any]:
    schema = PipelineSpec.model_json_schema(mode="validation")
    definitions = schema.get("$defs", {})
    for name, shorthand in SHORTHANDS.items():
        model = definitions[name]
        definitions[name] = {"anyOf": [shorthand, model]}
    for model in definitions.values():
        for field in ONE_OR_MANY:
            if field in model.get("properties", {}):
                listed = model["properties"][field]
                model["properties"][field] = {
                    "anyOf": [{"type": "string"}, listed],
                    **{k: listed[k] for k in ("description", "title") if k in listed},
                }
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": SCHEMA_ID,
        **schema,
        "title": "airflow-ml pipeline",
    }
