"""The DAG's ``schedule`` from YAML: a cron string, assets, an asset condition, or
asset-or-time. Asset classes are imported only for pipelines that use them."""

from __future__ import annotations

from typing import Any

from airflow_ml_provider.pipeline_spec.asset_conditions import SOURCE, Condition, parse_condition


def dag_schedule(schedule: Any, source_uri: str | None, retrain: Any = None) -> Any:
    """What ``DAG(schedule=...)`` takes for the spec's ``schedule`` (a ScheduleSpec or
    None; ``source`` in it is the data source's URI). With ``retrain`` (the monitor's
    retrain Asset) the DAG also runs whenever that Asset is updated."""
    cron = schedule.cron if schedule is not None else None
    condition = schedule.assets if schedule is not None else None
    if condition is None and retrain is None:
        return cron
    from airflow.sdk import Asset, AssetAll, AssetAny

    def build(part: Condition) -> Any:
        if isinstance(part, str):
            return Asset(source_uri if part == SOURCE else part)
        kind, parts = part
        return (AssetAll if kind == "all" else AssetAny)(*(build(p) for p in parts))

    assets = build(parse_condition(condition)) if condition else None
    if retrain is not None:
        assets = retrain if assets is None else AssetAny(assets, retrain)
    if cron is None:
        return assets
    from airflow.sdk import AssetOrTimeSchedule, CronTriggerTimetable

    return AssetOrTimeSchedule(timetable=CronTriggerTimetable(cron, timezone="UTC"), assets=assets)
