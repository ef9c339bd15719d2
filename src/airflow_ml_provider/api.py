"""The Python API for hand-written DAG files: a continuous-training DAG from a dict.

A DAG file in the DAGs folder::

    from pathlib import Path

    from airflow_ml_provider.api import build_dag

    dag = build_dag(
        {
            "pipeline": "churn",
            "data": {"source": "data/churn.csv", "target": "churned"},
            "training": {"estimator": "sklearn.ensemble.RandomForestClassifier"},
            "evaluation": {"metrics": ["roc_auc"]},
        },
        base_dir=Path(__file__).parent,
    )

The dict is exactly what a pipeline YAML file holds (``airflow-ml schema`` prints its JSON
Schema; ``PipelineSpec`` is the pydantic model). It goes through the same validation, allow-
lists and data roots as a file, and an invalid dict raises ``SpecError`` naming each field.
Each operator also works on its own (``airflow_ml_provider.operators``).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from airflow_ml_provider.pipeline_spec.errors import SpecError
from airflow_ml_provider.pipeline_spec.loader import (
    LoadedPipeline,
    load_pipeline,
    load_pipeline_data,
)
from airflow_ml_provider.pipeline_spec.models import PipelineSpec

if TYPE_CHECKING:
    from airflow.sdk import DAG

__all__ = [
    "LoadedPipeline",
    "PipelineSpec",
    "SpecError",
    "build_dag",
    "load_pipeline",
    "load_pipeline_data",
]


def build_dag(
    pipeline: Mapping[str, Any] | str | Path | LoadedPipeline,
    *,
    base_dir: str | Path | None = None,
) -> DAG:
    """The pipeline's DAG, from a dict (what a pipeline file holds), a pipeline file's path,
    or an already loaded pipeline.

    :param pipeline: the pipeline as a dict, a path to its YAML file, or a LoadedPipeline.
    :param base_dir: where a dict's relative data paths are (the DAG file's folder, usually
        ``Path(__file__).parent``); required for a dict, unused otherwise.
    :raises SpecError: the pipeline is invalid; each problem names its field.
    """
    from airflow_ml_provider.factory.builder import build_dag as build

    if isinstance(pipeline, LoadedPipeline):
        loaded = pipeline
    elif isinstance(pipeline, str | Path):
        loaded = load_pipeline(pipeline)
    else:
        if base_dir is None:
            raise TypeError("build_dag(dict) needs base_dir= (usually Path(__file__).parent)")
        loaded = load_pipeline_data(pipeline, base_dir)
    return build(loaded)
