"""What every section of the YAML contract shares: strict models, durations, metric names,
cron expressions and the allow-list check (pydantic v2, ``extra="forbid"``)."""

from __future__ import annotations

import datetime as dt
import re
from typing import Annotated, Any

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    ValidationInfo,
)

from airflow_ml_provider.core.allow_lists import (
    DEFAULT_ESTIMATOR_PREFIXES,
    DEFAULT_NOTIFIER_PREFIXES,
    in_allowed_module,
)
from airflow_ml_provider.core.durations import parse_duration
from airflow_ml_provider.core.metrics import METRICS, metric_names
from airflow_ml_provider.pipeline_spec.asset_conditions import parse_condition
from airflow_ml_provider.pipeline_spec.errors import did_you_mean

CRON_PRESETS = (
    "@once",
    "@continuous",
    "@hourly",
    "@daily",
    "@weekly",
    "@monthly",
    "@quarterly",
    "@yearly",
    "@annually",
)
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


def _duration(value: Any) -> dt.timedelta:
    return parse_duration(value)


Duration = Annotated[dt.timedelta, BeforeValidator(_duration)]


def _check_metric_name(name: str) -> str:
    if name not in METRICS:
        raise ValueError(
            f"unknown metric {name!r}{did_you_mean(name, METRICS)} "
            f"(known: {', '.join(metric_names())})"
        )
    return name


MetricName = Annotated[str, AfterValidator(_check_metric_name)]


def _valid_cron(value: str) -> str:
    if value in CRON_PRESETS:
        return value
    if value.startswith("@"):
        raise ValueError(f"unknown preset {value!r}; expected one of {', '.join(CRON_PRESETS)}")
    from croniter import croniter  # already imported by Airflow's own timetables

    if len(value.split()) != 5 or not croniter.is_valid(value):
        raise ValueError(
            f"{value!r} is not a valid cron expression; expected 5 fields "
            "'minute hour day-of-month month day-of-week' (e.g. '0 3 * * *') or a preset"
        )
    return value


def _valid_asset_condition(value: str) -> str:
    parse_condition(value)  # raises ConditionError (a ValueError) saying where and what
    return value


Cron = Annotated[str, AfterValidator(_valid_cron)]


_DEFAULT_PREFIXES = {
    "allowed_estimator_modules": DEFAULT_ESTIMATOR_PREFIXES,
    "allowed_notifier_modules": DEFAULT_NOTIFIER_PREFIXES,
}


def _in_allowed_module(value: str, info: ValidationInfo, setting: str) -> str:
    return in_allowed_module(value, info, setting, _DEFAULT_PREFIXES[setting])


class _Strict(BaseModel):
    # Finite numbers only: `min_improvement: -.inf` would promote anything, `.nan` nothing.
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)
