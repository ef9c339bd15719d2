"""Cross-field rules, each reported at the exact field it concerns (cheap, parse-time safe)."""

from __future__ import annotations

from airflow_ml_provider.spec.metrics import METRICS, metric_names
from airflow_ml_provider.spec.models import PipelineSpec

FieldPath = tuple[str | int, ...]


def cross_field_problems(spec: PipelineSpec) -> list[tuple[FieldPath, str]]:
    """Problems that involve more than one field, as (field path, message) pairs."""
    problems: list[tuple[FieldPath, str]] = []
    if spec.schedule is not None and spec.start_date is None:
        problems.append((("schedule",), "start_date is required when schedule is set"))
    if spec.data.resolved_format is None:
        problems.append(
            (
                ("data", "source"),
                f"cannot infer the format of {spec.data.source!r} from its suffix; "
                "set data.format to 'csv' or 'parquet'",
            )
        )
    if spec.data.features is not None and spec.data.target in spec.data.features:
        index = spec.data.features.index(spec.data.target)
        problems.append(
            (("data", "features", index), f"the target {spec.data.target!r} cannot be a feature")
        )
    task = spec.training.task_type
    if task is None:
        problems.append(
            (
                ("training", "estimator"),
                f"cannot tell whether {spec.training.estimator!r} is a classifier or a "
                "regressor; set training.task to 'classification' or 'regression'",
            )
        )
        return problems
    evaluation = spec.evaluation
    metric_paths: list[tuple[FieldPath, str]] = [
        (("evaluation", "primary_metric"), evaluation.primary_metric)
    ]
    metric_paths += [
        (("evaluation", "metrics", i), name) for i, name in enumerate(evaluation.metrics)
    ]
    for path, name in metric_paths:
        if METRICS[name].task != task:
            problems.append(
                (
                    path,
                    f"{name!r} is a {METRICS[name].task} metric but {spec.training.estimator} "
                    f"is a {task} estimator; expected one of {', '.join(metric_names(task))}",
                )
            )
    for name in evaluation.thresholds:
        if name not in evaluation.all_metrics:
            problems.append(
                (
                    ("evaluation", "thresholds", name),
                    f"{name!r} is not computed; add it to evaluation.metrics "
                    f"({', '.join(evaluation.all_metrics)}) or remove the threshold",
                )
            )
    return problems
