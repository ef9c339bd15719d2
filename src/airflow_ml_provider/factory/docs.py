"""The DAG's doc_md: the pipeline's description and a readable summary of its config."""

from __future__ import annotations

import json

from airflow_ml_provider.core.durations import format_duration
from airflow_ml_provider.core.metrics import METRICS
from airflow_ml_provider.core.steps import flow_line
from airflow_ml_provider.pipeline_spec.loader import LoadedPipeline
from airflow_ml_provider.ui.card import card_comment


def _code(value: object) -> str:
    text = value if isinstance(value, str) else json.dumps(value, default=str)
    return f"`{text}`"


def pipeline_card(loaded: LoadedPipeline, monitor_dag_id: str | None) -> dict:
    """What the "ML pipelines" pages show about this pipeline (see ui/card.py)."""
    spec = loaded.spec
    primary = spec.evaluation.primary_metric
    info = METRICS.get(primary)
    try:
        yaml_text = loaded.file.read_text()
    except OSError:
        yaml_text = ""
    return {
        "pipeline": spec.pipeline,
        "file": str(loaded.file),
        "config_hash": loaded.config_hash,
        "model_name": spec.model_name,
        "experiment_name": spec.experiment_name,
        "mlflow_conn_id": spec.registry.mlflow_conn_id,
        "primary_metric": primary,
        "higher_is_better": info.higher_is_better if info else True,
        "metrics": spec.evaluation.all_metrics,
        "partition_by": spec.data.partition_by,
        "candidates": [c.name for c in spec.training.candidate_list],
        "monitor_dag_id": monitor_dag_id,
        "deployment": spec.deployment.strategy,
        "yaml": yaml_text,
    }


def pipeline_doc(loaded: LoadedPipeline, monitor_dag_id: str | None = None) -> str:
    """Markdown shown on the DAG's page in the Airflow UI, ending with the pipeline card."""
    spec = loaded.spec
    rows = [
        ("YAML file", loaded.file),
        ("Config hash", loaded.config_hash),
        ("Data source", loaded.source),
        ("Format / target", f"{spec.data.resolved_format} / {spec.data.target}"),
        ("Wait for new data", spec.data.wait.model_dump(mode="json") if spec.data.wait else "no"),
        (
            "Freshness",
            spec.data.freshness.model_dump(mode="json") if spec.data.freshness else "not checked",
        ),
        ("Schema", loaded.schema_uri or spec.validation.schema_ or "off"),
        (
            "Drift",
            spec.validation.drift.model_dump(mode="json") if spec.validation.drift else "off",
        ),
        ("On validation failure", spec.validation.on_failure),
        ("Features", spec.data.features or "all columns except the target"),
        ("Split", spec.data.split.model_dump()),
        ("Expectations", [next(iter(item)) for item in spec.validation.expectations] or "none"),
        *(
            [("Candidates", {c.name: c.estimator for c in spec.training.candidate_list})]
            if spec.training.candidate_list
            else [("Estimator", spec.training.estimator), ("Params", spec.training.params)]
        ),
        ("Task / runner", f"{spec.training.task_type} / {spec.training.runner}"),
        ("Primary metric", spec.evaluation.primary_metric),
        ("Metrics", spec.evaluation.all_metrics),
        ("Thresholds", spec.evaluation.thresholds or "none"),
        ("Min improvement over champion", spec.evaluation.min_improvement),
        ("Registered model", f"{spec.model_name} (connection {spec.registry.mlflow_conn_id})"),
        ("Partitioned by", spec.data.partition_by or "not partitioned"),
        ("Deployment", spec.deployment.strategy),
        ("Retries", f"{spec.retries} every {format_duration(spec.retry_delay)}"),
        ("Alerts", spec.alerts.email or "none"),
    ]
    table = "\n".join(f"| {name} | {_code(value)} |" for name, value in rows)
    return (
        f"# {spec.pipeline}\n\n{spec.description or '(no description)'}\n\n"
        + flow_line(spec)
        + "\n\n"
        f"| Setting | Value |\n|---|---|\n{table}\n"
        + card_comment(pipeline_card(loaded, monitor_dag_id))
    )


def error_doc(file: str, message: str) -> str:
    """Markdown for a broken-config DAG."""
    return (
        f"# Invalid pipeline file\n\n`{file}` could not be loaded, so its pipeline is not "
        "scheduled. Fix the file (run `airflow-ml check` on it) and this DAG disappears.\n\n"
        f"```\n{message}\n```\n"
    )
