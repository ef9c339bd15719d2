"""JSON Schema of pipeline files, for editors (yaml-language-server) and CI."""

from __future__ import annotations

from typing import Any

from airflow_ml_provider.spec.models import PipelineSpec


def json_schema() -> dict[str, Any]:
    schema = PipelineSpec.model_json_schema(mode="validation")
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = "airflow-ml pipeline"
    return schema
