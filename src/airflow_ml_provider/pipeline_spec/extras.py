"""What a pipeline needs installed beyond the base package: the optional extras
(``pip install 'airflow-ml-provider[kubernetes]'`` ...). A pipeline that uses a feature whose
extra is missing is refused at the YAML line that asks for it, by ``airflow-ml check`` and
by the DAG processor, instead of failing in a task with an ImportError.

Installed or not is read from the distributions' metadata (no import: this runs while
Airflow parses the DAG folder).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

from airflow_ml_provider.pipeline_spec.models import PipelineSpec
from airflow_ml_provider.pipeline_spec.roots import scheme_of
from airflow_ml_provider.pipeline_spec.training_rules import FieldPath


@dataclass(frozen=True)
class Extra:
    """An optional extra: its name in ``pip install 'airflow-ml-provider[name]'`` and the
    distribution that tells whether it is installed."""

    name: str
    distribution: str
    what: str


KUBERNETES = Extra("kubernetes", "apache-airflow-providers-cncf-kubernetes", "Kubernetes")
GCP = Extra("gcp", "apache-airflow-providers-google", "Google Cloud (BigQuery, gs://)")
AWS = Extra("aws", "apache-airflow-providers-amazon", "Amazon S3 (s3://)")
OPTUNA = Extra("optuna", "optuna", "Optuna searches")
SKRUB = Extra("skrub", "skrub", "skrub's SquashingScaler")


@functools.cache
def installed(distribution: str) -> bool:
    import importlib.metadata

    try:
        importlib.metadata.distribution(distribution)
    except importlib.metadata.PackageNotFoundError:
        return False
    return True


SCHEME_EXTRAS = {"gs": GCP, "gcs": GCP, "bigquery": GCP, "s3": AWS, "s3a": AWS}


def _uri_extra(uri: str | None) -> Extra | None:
    """The extra a remote URI's scheme needs (any spelling: GS:// is gs://)."""
    return SCHEME_EXTRAS.get(scheme_of(uri) or "") if uri else None


def needed_extras(spec: PipelineSpec) -> list[tuple[FieldPath, Extra, str]]:
    """``(field path, extra, what asks for it)`` for every optional feature the spec uses."""
    needs: list[tuple[FieldPath, Extra, str]] = []
    source = spec.data.source
    if source.kind == "bigquery":
        needs.append((("data", "source"), GCP, "a bigquery source"))
    elif (extra := _uri_extra(source.uri)) is not None:
        needs.append((("data", "source"), extra, f"the source {source.uri}"))
    training = spec.training
    if training.runner == "kubernetes":
        needs.append((("training", "runner"), KUBERNETES, "runner kubernetes"))
    if training.search is not None and training.search.method == "optuna":
        needs.append((("training", "search", "method"), OPTUNA, "search method optuna"))
    for index, candidate in enumerate(training.candidates):
        search = candidate.search
        if search is not None and search.method == "optuna":
            where = ("training", "candidates", index, "search", "method")
            needs.append((where, OPTUNA, "search method optuna"))
    strategy = spec.deployment.strategy
    if strategy in ("kubernetes", "kserve"):
        needs.append((("deployment", "strategy"), KUBERNETES, f"strategy {strategy}"))
    batch = spec.deployment.batch
    output = batch.output if batch is not None else None
    if isinstance(output, str) and (extra := _uri_extra(output)) is not None:
        needs.append((("deployment", "batch", "output"), extra, f"the output {output}"))
    if _scales_with_squashing(spec):
        needs.append((("features",), SKRUB, "scale squashing"))
    return needs


def _scales_with_squashing(spec: PipelineSpec) -> bool:
    features = spec.features
    return features.numeric.scale == "squashing" or any(
        c.options.get("scale") == "squashing" for c in features.columns.values()
    )


def extra_problems(spec: PipelineSpec) -> list[tuple[FieldPath, str]]:
    """A problem at the field for each optional feature whose extra is not installed."""
    return [
        (
            where,
            f"{why} needs {extra.what} support, which is not installed: "
            f"pip install 'airflow-ml-provider[{extra.name}]'",
        )
        for where, extra, why in needed_extras(spec)
        if not installed(extra.distribution)
    ]
