"""OpenLineage for the pipeline's steps (the ``[openlineage]`` extra).

The OpenLineage provider's listener calls each operator's
``get_openlineage_facets_on_complete`` (and ``..._on_failure``) in the task's own process
after it ran: the operator's templated fields are rendered by then and execute kept its
result (``kept``). This module turns those into datasets and facets; it is imported only
from those methods, so nothing here loads unless the provider is installed and configured.
One run's graph::

    source files / table --snapshot_data--> snapshot parquet (schema, rows, bytes)
    snapshot --validate_data--> (expectation results as data quality assertions)
    snapshot --train_model--> the run's logged model (training metrics)
    the run's logged model --register_model--> models:/<name>/<version> (metrics, gate decision)
    models:/<name>/<version> --deploy_model--> what serves it (the alias, a Deployment, an
    InferenceService)

Files and tables are named by Airflow's asset converters, which follow OpenLineage's naming
spec (``file`` + path, ``gs://bucket`` + key, ``bigquery`` + project.dataset.table); models by
their MLflow tracking server (namespace) and model URI (name).
"""

from __future__ import annotations

import urllib.parse
from typing import Any

from attrs import define
from openlineage.client.generated.base import Dataset, InputDataset, OutputDataset, RunFacet

from airflow_ml_provider.core.contracts import Deployment, GateDecision, Snapshot

# The facets are this provider's own (OpenLineage's custom facets): named like the
# pipeline schema's $id, as the project has no public URL of its own.
_FACETS_SCHEMA = "urn:airflow-ml-provider:openlineage"


@define
class MlMetricsRunFacet(RunFacet):
    """The model's metrics on the held-out rows (and the champion's, when the gate had one)."""

    challenger: dict[str, float]
    champion: dict[str, float] | None = None

    @staticmethod
    def _get_schema() -> str:
        return f"{_FACETS_SCHEMA}#/$defs/MlMetricsRunFacet"


@define
class MlGateRunFacet(RunFacet):
    """The gate's decision: promoted or not, why, and every rule it checked."""

    promoted: bool
    reason: str
    primaryMetric: str | None
    rules: list[dict[str, Any]]
    championVersion: int | None = None

    @staticmethod
    def _get_schema() -> str:
        return f"{_FACETS_SCHEMA}#/$defs/MlGateRunFacet"


@define
class MlDeploymentRunFacet(RunFacet):
    """What serves the promoted version now."""

    strategy: str
    version: int
    deployedAt: str
    target: dict[str, Any]

    @staticmethod
    def _get_schema() -> str:
        return f"{_FACETS_SCHEMA}#/$defs/MlDeploymentRunFacet"


def location_dataset(uri: str, facets: dict[str, Any] | None = None):
    """The OpenLineage dataset of a file or table URI, named by Airflow's asset converters
    (a local path is a ``file://`` URI); None when no installed provider names its scheme."""
    from airflow.providers.openlineage.utils.utils import translate_airflow_asset
    from airflow.sdk import Asset

    if "://" not in uri:
        uri = f"file://{uri}"
    dataset = translate_airflow_asset(Asset(uri), None)
    if dataset is not None and facets:
        dataset.facets = {**(dataset.facets or {}), **facets}
    return dataset


def source_datasets(source: dict[str, Any]) -> list[Any]:
    """The datasets a source reads: its table, or its files (a glob or prefix names the
    folder it matches in)."""
    if source.get("kind") == "bigquery" and source.get("table"):
        project, dataset, table = str(source["table"]).split(".")[-3:]
        found = location_dataset(f"bigquery://{project}/{dataset}/{table}")
    elif source.get("kind", "files") == "files":
        uri = str(source["uri"])
        pattern = next((i for i, c in enumerate(uri) if c in "*?["), None)
        found = location_dataset(uri if pattern is None else uri[:pattern].rsplit("/", 1)[0])
    else:
        found = None  # a query: the tables it reads are the warehouse's lineage to tell
    return [found] if found is not None else []


def snapshot_dataset(snapshot: Snapshot, *, with_statistics: bool = False):
    """The snapshot parquet with its schema (from the file's footer: no data is read)."""
    import pyarrow.parquet as pq
    from airflow.sdk import ObjectStoragePath
    from openlineage.client.generated.output_statistics_output_dataset import (
        OutputStatisticsOutputDatasetFacet,
    )
    from openlineage.client.generated.schema_dataset import (
        SchemaDatasetFacet,
        SchemaDatasetFacetFields,
    )

    with ObjectStoragePath(snapshot["uri"]).open("rb") as handle:
        schema = pq.read_schema(handle)
    fields = [SchemaDatasetFacetFields(name=f.name, type=str(f.type)) for f in schema]
    dataset = location_dataset(snapshot["uri"], {"schema": SchemaDatasetFacet(fields=fields)})
    if dataset is None or not with_statistics:
        return dataset
    statistics = OutputStatisticsOutputDatasetFacet(
        rowCount=snapshot["rows"], size=snapshot["bytes"]
    )
    return OutputDataset(
        namespace=dataset.namespace,
        name=dataset.name,
        facets=dataset.facets,
        outputFacets={"outputStatistics": statistics},
    )


def validated_dataset(snapshot: Snapshot, validation: dict[str, Any]):
    """The snapshot as validate_data's input, with each expectation as an assertion."""
    from openlineage.client.generated.data_quality_assertions_dataset import (
        Assertion,
        DataQualityAssertionsDatasetFacet,
    )

    dataset = snapshot_dataset(snapshot)
    if dataset is None:
        return None
    assertions = [
        Assertion(assertion=r["expectation"], success=bool(r["success"]), column=r.get("column"))
        for r in validation.get("results", [])
    ]
    return InputDataset(
        namespace=dataset.namespace,
        name=dataset.name,
        facets=dataset.facets,
        inputFacets={"dataQualityAssertions": DataQualityAssertionsDatasetFacet(assertions)},
    )


def model_dataset(tracking_uri: str, model_uri: str) -> Dataset:
    """A model in MLflow: the tracking server (its URI without credentials) and the model
    URI (``models:/<name>/<version>``, or the logged model of a run)."""
    parts = urllib.parse.urlsplit(tracking_uri)
    namespace = tracking_uri
    if parts.username or parts.password:
        netloc = f"{parts.hostname}:{parts.port}" if parts.port else str(parts.hostname)
        namespace = urllib.parse.urlunsplit((parts.scheme, netloc, parts.path, "", ""))
    return Dataset(namespace=namespace, name=model_uri)


def gate_facets(decision: GateDecision, promoted: bool, reason: str) -> dict[str, Any]:
    """Run facets of register_model: the metrics and the gate decision."""
    return {
        "airflowMlMetrics": MlMetricsRunFacet(
            challenger=dict(decision.get("challenger") or {}),
            champion=decision.get("champion"),
        ),
        "airflowMlGate": MlGateRunFacet(
            promoted=promoted,
            reason=reason,
            primaryMetric=decision.get("primary_metric"),
            rules=[dict(rule) for rule in decision.get("rules", [])],
            championVersion=decision.get("champion_version"),
        ),
    }


def serving_dataset(tracking_uri: str, model_name: str, deployment: Deployment):
    """What deploy_model made serve the version: an InferenceService, a Deployment, or the
    champion alias that serving resolves."""
    if "kserve" in deployment:
        where = deployment["kserve"]
        name = f"{where['namespace']}/inferenceservices/{where['inference_service']}"
        return Dataset(namespace="kubernetes", name=name)
    if "kubernetes" in deployment:
        where = deployment["kubernetes"]
        return Dataset(
            namespace="kubernetes", name=f"{where['namespace']}/deployments/{where['deployment']}"
        )
    return model_dataset(tracking_uri, f"models:/{model_name}@champion")


def deployment_facets(deployment: Deployment) -> dict[str, Any]:
    target = deployment.get("kserve") or deployment.get("kubernetes") or {}
    return {
        "airflowMlDeployment": MlDeploymentRunFacet(
            strategy=deployment["strategy"],
            version=int(deployment["version"]),
            deployedAt=deployment["deployed_at"],
            target={k: v for k, v in target.items() if isinstance(v, str | int | float)},
        )
    }


def operator_lineage(
    inputs: list[Any], outputs: list[Any], run_facets: dict[str, Any] | None = None
):
    """The OperatorLineage the provider's extractor expects (datasets that could not be
    named are left out)."""
    from airflow.providers.openlineage.extractors import OperatorLineage

    return OperatorLineage(
        inputs=[d for d in inputs if d is not None],
        outputs=[d for d in outputs if d is not None],
        run_facets=run_facets or {},
    )


def kept(operator: Any) -> tuple[Any, str]:
    """What the operator's execute kept for lineage: its result and the MLflow tracking URI.

    The provider's listener runs the facet methods in a forked process with a 10 s budget:
    reading XCom or a connection from there can hang on the parent's supervisor channel, so
    execute keeps what they need on the operator (``lineage_result``, ``lineage_tracking``).
    """
    return getattr(operator, "lineage_result", None) or {}, getattr(
        operator, "lineage_tracking", ""
    )
