"""The pipeline being built and its tasks so far: what every step builder takes."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeVar

from airflow.sdk import BaseOperator

from airflow_ml_provider.core.steps import summary_roles
from airflow_ml_provider.pipeline_spec.loader import LoadedPipeline

if TYPE_CHECKING:
    from airflow_ml_provider.pipeline_spec.models import PipelineSpec

T = TypeVar("T")


def needed(value: T | None, field: str) -> T:
    """A section or value the step's rule guarantees (core/steps.py ``when``,
    pipeline_spec/rules.py):
    its absence is a bug in those rules, said as such."""
    if value is None:
        raise ValueError(f"this step needs {field}, which the pipeline's rules require")
    return value


@dataclass
class Built:
    """The pipeline being built and its tasks so far, by task id."""

    loaded: LoadedPipeline
    tasks: dict[str, BaseOperator] = field(default_factory=dict)

    @property
    def spec(self) -> PipelineSpec:
        return self.loaded.spec

    def output(self, task_id: str) -> Any:
        """The XComArg of an earlier step's result."""
        return self.tasks[task_id].output

    def training_output(self) -> Any:
        """The training result: train_model's, or assemble_model's when partitioned."""
        return self.output(summary_roles(self.spec)["training"])
