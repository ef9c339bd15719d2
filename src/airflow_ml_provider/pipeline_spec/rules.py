"""Cross-field rules, each reported at the exact field it concerns (cheap, parse-time safe)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from airflow_ml_provider.core.metrics import METRICS, guess_task_type, metric_names
from airflow_ml_provider.core.steps import pipeline_steps
from airflow_ml_provider.pipeline_spec.asset_conditions import SOURCE, parse_condition, uris
from airflow_ml_provider.pipeline_spec.extras import extra_problems
from airflow_ml_provider.pipeline_spec.models import PipelineSpec
from airflow_ml_provider.pipeline_spec.training_rules import (
    FieldPath,
    candidate_problems,
    training_problems,
    validation_split_problems,
)

if TYPE_CHECKING:
    from airflow_ml_provider.pipeline_spec.training_section import TrainingSpec

_SOURCE_FIELDS = {
    "files": {"required": ("uri",), "allowed": ("uri", "conn_id", "file_name_column")},
    "bigquery": {"required": (), "allowed": ("table", "query", "conn_id", "location")},
    "sql": {"required": ("conn_id", "query"), "allowed": ("conn_id", "query", "change_query")},
}


def source_problems(spec: PipelineSpec) -> list[tuple[FieldPath, str]]:
    """Each source kind needs its own fields and takes no others."""
    source = spec.data.source
    problems: list[tuple[FieldPath, str]] = []
    where: FieldPath = ("data", "source")
    rules = _SOURCE_FIELDS[source.kind]
    for name in rules["required"]:
        if getattr(source, name) is None:
            problems.append((where, f"a {source.kind} source needs {name!r}"))
    for name in source.model_fields_set - {"kind", *rules["allowed"]}:
        problems.append(
            (
                (*where, name),
                f"{name!r} does not apply to a {source.kind} source; "
                f"expected {', '.join(rules['allowed'])}",
            )
        )
    if source.kind == "bigquery" and (source.table is None) == (source.query is None):
        problems.append((where, "a bigquery source needs exactly one of 'table' or 'query'"))
    if source.kind == "files" and source.uri and spec.data.resolved_format is None:
        problems.append(
            (
                where,
                f"cannot infer the format of {source.uri!r} from its suffix; "
                "set data.format to 'csv' or 'parquet'",
            )
        )
    if source.kind != "files" and spec.data.format is not None:
        problems.append(
            (("data", "format"), f"a {source.kind} source is read as a table; remove format")
        )
    if spec.data.wait and source.kind == "sql" and source.change_query is None:
        problems.append(
            (
                ("data", "wait"),
                "waiting on a sql source needs data.source.change_query, a query returning "
                "one timestamp or number that grows when new rows arrive",
            )
        )
    return problems


def partition_problems(spec: PipelineSpec) -> list[tuple[FieldPath, str]]:
    """Partition settings need data.partition_by, and a partition column is not a label."""
    data = spec.data
    problems: list[tuple[FieldPath, str]] = []
    column = data.partition_by
    if column is None:
        if spec.training.partitioning is not None:
            problems.append((("training", "partitioning"), "partitioning needs data.partition_by"))
        if spec.evaluation.per_partition is not None:
            problems.append(
                (("evaluation", "per_partition"), "per_partition needs data.partition_by")
            )
        return problems
    if column == data.target:
        problems.append(
            (("data", "partition_by"), f"the target {column!r} cannot be the partition column")
        )
    if spec.training.search is not None:
        problems.append(
            (
                ("training", "search"),
                "search is not available with data.partition_by yet; remove one of them",
            )
        )
    return problems


def deployment_problems(spec: PipelineSpec) -> list[tuple[FieldPath, str]]:
    """strategy batch / kubernetes / kserve needs its section (deployment.batch, ...), and
    each of those sections needs its strategy."""
    deployment = spec.deployment
    needs = {
        "batch": "source and output",
        "kubernetes": "an image",
        "kserve": "its settings (`kserve: {}` for the defaults)",
    }
    for strategy, what in needs.items():
        section = getattr(deployment, strategy)
        if deployment.strategy == strategy and section is None:
            return [
                (
                    ("deployment", "strategy"),
                    f"strategy {strategy} needs deployment.{strategy} with {what}",
                )
            ]
        if deployment.strategy != strategy and section is not None:
            return [
                (
                    ("deployment", strategy),
                    f"deployment.{strategy} applies only to strategy {strategy}",
                )
            ]
    kserve = deployment.kserve
    if kserve and kserve.canary and kserve.mode != "serverless":
        return [
            (
                ("deployment", "kserve", "canary"),
                "KServe splits traffic only in serverless mode; remove the canary or use "
                "mode: serverless",
            )
        ]
    if kserve and kserve.min_replicas > kserve.max_replicas:
        return [
            (
                ("deployment", "kserve", "min_replicas"),
                f"min_replicas {kserve.min_replicas} is above max_replicas {kserve.max_replicas}",
            )
        ]
    batch = deployment.batch
    if batch and batch.source.kind == "files" and batch.resolved_format is None:
        return [
            (
                ("deployment", "batch", "source"),
                f"cannot infer the format of {batch.source.uri!r} from its suffix; "
                "use .csv or .parquet files",
            )
        ]
    return []


def schedule_problems(spec: PipelineSpec) -> list[tuple[FieldPath, str]]:
    """A cron schedule needs start_date; `source` in an asset schedule needs a files source."""
    schedule = spec.schedule
    problems: list[tuple[FieldPath, str]] = []
    if schedule is None:
        return problems
    if schedule.cron is not None and spec.start_date is None:
        problems.append((("schedule",), "start_date is required with a cron schedule"))
    named = uris(parse_condition(schedule.assets)) if schedule.assets else []
    if SOURCE in named and spec.data.source.kind != "files":
        problems.append(
            (
                ("schedule",),
                f"'{SOURCE}' names the data source as an asset, which needs a files source "
                f"(a URI); this one is {spec.data.source.kind}",
            )
        )
    return problems


def monitoring_problems(spec: PipelineSpec) -> list[tuple[FieldPath, str]]:
    """mode watcher checks drift only, on poll_interval; mode dag runs on schedule."""
    monitoring = spec.monitoring
    if monitoring is None:
        return []
    problems: list[tuple[FieldPath, str]] = []
    if monitoring.mode == "watcher":
        if monitoring.labels is not None:
            message = "labels need mode dag (the watcher checks drift only)"
            problems.append((("monitoring", "labels"), message))
        if "schedule" in monitoring.model_fields_set:
            message = "schedule applies to mode dag; the watcher checks every poll_interval"
            problems.append((("monitoring", "schedule"), message))
    elif "poll_interval" in monitoring.model_fields_set:
        message = "poll_interval applies to mode watcher; the monitor DAG runs on schedule"
        problems.append((("monitoring", "poll_interval"), message))
    return problems


def alert_problems(spec: PipelineSpec) -> list[tuple[FieldPath, str]]:
    """`stalled` needs alerts.deadline and recipients; a deadline needs `stalled`."""
    alerts = spec.alerts
    stalled = "stalled" in alerts.on
    if stalled and alerts.deadline is None:
        return [(("alerts", "on"), "stalled needs alerts.deadline, e.g. deadline: 3h")]
    if alerts.deadline is not None and not stalled:
        return [(("alerts", "deadline"), "a deadline mails only with stalled in alerts.on")]
    if stalled and not alerts.email:
        return [(("alerts", "on"), "stalled mails alerts.email, which is empty")]
    return []


def step_policy_problems(spec: PipelineSpec) -> list[tuple[FieldPath, str]]:
    """steps: only names this pipeline's DAG has."""
    steps = pipeline_steps(spec)
    return [
        (("steps", name), f"this pipeline has no {name} step (its steps: {', '.join(steps)})")
        for name in spec.steps
        if name not in steps
    ]


def cross_field_problems(spec: PipelineSpec) -> list[tuple[FieldPath, str]]:
    """Problems that involve more than one field, as (field path, message) pairs."""
    problems: list[tuple[FieldPath, str]] = []
    problems.extend(schedule_problems(spec))
    problems.extend(source_problems(spec))
    problems.extend(training_problems(spec))
    problems.extend(partition_problems(spec))
    problems.extend(candidate_problems(spec))
    problems.extend(validation_split_problems(spec))
    problems.extend(deployment_problems(spec))
    problems.extend(step_policy_problems(spec))
    problems.extend(monitoring_problems(spec))
    problems.extend(alert_problems(spec))
    problems.extend(extra_problems(spec))
    if spec.data.features is not None and spec.data.target in spec.data.features:
        index = spec.data.features.index(spec.data.target)
        problems.append(
            (("data", "features", index), f"the target {spec.data.target!r} cannot be a feature")
        )
    task = spec.training.task_type
    if task is None:
        training = spec.training
        mixed = len({guess_task_type(e) for e in training.estimators} - {None}) > 1
        if (training.estimator or training.candidates) and not mixed:
            field = "estimator" if training.estimator else "candidates"
            named = ", ".join(map(repr, training.estimators))
            problems.append(
                (
                    ("training", field),
                    f"cannot tell whether {named} is a classifier or a regressor; set "
                    "training.task to 'classification' or 'regression'",
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
                    f"{name!r} is a {METRICS[name].task} metric but "
                    f"{_what_trains(spec.training, task)}; expected one "
                    f"of {', '.join(metric_names(task))}",
                )
            )
    for name in evaluation.max_regression:
        if name not in evaluation.all_metrics:
            problems.append(
                (
                    ("evaluation", "max_regression", name),
                    f"{name!r} is not computed; add it to evaluation.metrics "
                    f"({', '.join(evaluation.all_metrics)}) or remove it",
                )
            )
    weight = evaluation.sample_weight
    if weight is not None:
        where: FieldPath = ("evaluation", "sample_weight")
        if spec.data.features is None:
            problems.append(
                (
                    where,
                    "sample_weight needs data.features listed, so the weight column "
                    "is not used as a feature",
                )
            )
        elif weight in spec.data.features or weight == spec.data.target:
            problems.append((where, f"{weight!r} is a feature or the target, not a weight"))
    for index, item in enumerate(evaluation.slices):
        if item.column == spec.data.target:
            problems.append(
                (("evaluation", "slices", index, "column"), "the target cannot define slices")
            )
    for name, bound in evaluation.thresholds.items():
        if name not in evaluation.all_metrics:
            problems.append(
                (
                    ("evaluation", "thresholds", name),
                    f"{name!r} is not computed; add it to evaluation.metrics "
                    f"({', '.join(evaluation.all_metrics)}) or remove the threshold",
                )
            )
        elif not METRICS[name].reachable(bound):
            info = METRICS[name]
            kind = "floor" if info.higher_is_better else "ceiling"
            span = f"{info.low if info.low is not None else '-inf'} to "
            span += f"{info.high if info.high is not None else 'inf'}"
            problems.append(
                (
                    ("evaluation", "thresholds", name),
                    f"{name} ranges from {span}: a {kind} of {bound} can never be met, so no "
                    "model would ever be promoted",
                )
            )
    return problems


def _what_trains(training: TrainingSpec, task: str) -> str:
    """The estimators (or the team's entrypoint) and the task they train, in words."""
    if training.team_trainer:
        return f"{training.team_trainer[1]} trains a {task} model"
    return f"{', '.join(training.estimators)} is a {task} estimator"
