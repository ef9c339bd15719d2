"""The YAML contract: models, loading with file:line:column errors, JSON Schema."""

from airflow_ml_provider.pipeline_spec.errors import SpecError, SpecProblem
from airflow_ml_provider.pipeline_spec.loader import LoadedPipeline, load_pipeline
from airflow_ml_provider.pipeline_spec.models import PipelineSpec

__all__ = ["LoadedPipeline", "PipelineSpec", "SpecError", "SpecProblem", "load_pipeline"]
