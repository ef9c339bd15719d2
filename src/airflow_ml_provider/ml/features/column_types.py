"""Each input column's feature type: declared in ``features.columns`` or inferred from the
data, and the checks that the data fits the declared types.

Inference looks at the dtype, then at the values: booleans (also yes/no text), dates
(also date text), numbers, and for text columns the length and uniqueness of the values
(long free text is ``text``; a short string or an integer unique per row is an id and
ignored). No Airflow imports: this runs in the training process and in ``airflow-ml check``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from airflow_ml_provider.core.errors import AirflowMlError
from airflow_ml_provider.core.features import FeaturesSpec, FeatureType
from airflow_ml_provider.ml.transformers import BOOLEAN_WORDS, to_datetime

CUSTOM = "custom"
TEXT_MIN_MEAN_LENGTH = 30
TEXT_MIN_MEAN_WORDS = 4
ID_MIN_ROWS = 20
ID_NAME = re.compile(r"(^|[_\W])(?i:id|key|uuid|guid)s?$|[a-z0-9](Id|ID|Key|KEY)s?$")
"""Column names that say "identifier": ``id``, ``user_id``, ``tweetId``, ``order-key``."""
ID_MAGNITUDE = 10**12
"""Integers this large (snowflake/tweet ids, epoch milliseconds) are not measurements."""
SAMPLE = 500
"""Distinct values looked at to tell dates, booleans and text from categories."""


class FeatureError(AirflowMlError, ValueError):
    """The data does not fit the features section (named column, a few offending values)."""


@dataclass(frozen=True)
class ColumnPlan:
    """What happens to one input column."""

    column: str
    type: str
    how: str
    """declared | inferred | custom"""
    note: str = ""
    settings: dict[str, Any] = field(default_factory=dict)


def _examples(values: pd.Series, limit: int = 3) -> str:
    shown = [repr(v) for v in pd.unique(values)[:limit]]
    return ", ".join(shown) + (f" ({len(values)} rows)" if len(values) else "")


def _is_text_dtype(values: pd.Series) -> bool:
    return pd.api.types.is_object_dtype(values) or pd.api.types.is_string_dtype(values)


def infer_type(values: pd.Series) -> tuple[FeatureType, str]:
    """``(type, note)`` of one column from its dtype and values."""
    present = values.dropna()
    if present.empty:
        return "ignore", "entirely missing"
    if pd.api.types.is_bool_dtype(values):
        return "boolean", ""
    if pd.api.types.is_datetime64_any_dtype(values):
        return "datetime", ""
    if isinstance(values.dtype, pd.CategoricalDtype):
        return "categorical", ""
    if pd.api.types.is_numeric_dtype(values):
        if (
            pd.api.types.is_integer_dtype(values)
            and len(present) >= ID_MIN_ROWS
            and present.is_unique
        ):
            if int(present.max()) - int(present.min()) + 1 == len(present):
                return "ignore", "a row number (consecutive, unique per row)"
            # An 18-digit tweet id kept as a number wrecked a linear model; but a monthly
            # population is unique per row too, so only a name or a magnitude says "id".
            if ID_NAME.search(str(values.name)) or int(present.abs().max()) >= ID_MAGNITUDE:
                return "ignore", (
                    "integers unique per row: an id (declare it numeric in features.columns "
                    "if it is a measurement)"
                )
        return "numeric", ""
    sample = pd.Series(pd.unique(present)[:SAMPLE])
    kinds = {type(v).__name__ for v in sample}
    if kinds <= {"bool"}:
        return "boolean", ""
    if kinds <= {"date", "datetime", "Timestamp"}:
        return "datetime", ""
    text = sample.astype(str).str.strip()
    words = text.str.lower()
    if words.isin(BOOLEAN_WORDS).all() and words.nunique() <= 2 and not words.str.isdigit().all():
        return "boolean", ""
    looks_like_dates = text.str.contains(r"\d").all() and text.str.contains(r"[-/:]").all()
    if looks_like_dates and to_datetime(text).notna().all():
        return "datetime", "text that parses as dates"
    lengths = text.str.len()
    words = text.str.split().str.len()
    if lengths.mean() >= TEXT_MIN_MEAN_LENGTH or words.mean() >= TEXT_MIN_MEAN_WORDS:
        return "text", f"free text (mean {lengths.mean():.0f} characters)"
    if len(present) >= ID_MIN_ROWS and present.is_unique:
        return "ignore", "unique per row: an id"
    cardinality = present.nunique()
    return "categorical", f"{cardinality} categories" if cardinality > 50 else ""


DATE_PARTS = ["year", "month", "day", "dayofweek"]


def auto_date_parts(values: pd.Series) -> list[str]:
    """The calendar parts ``parts: auto`` stands for: DATE_PARTS, and the hour when some
    value has a time of day (timestamps, not dates)."""
    when = to_datetime(values.dropna())
    has_time = bool(len(when)) and bool((when.dt.normalize() != when).any())
    return [*DATE_PARTS, "hour"] if has_time else list(DATE_PARTS)


FEW_WORDS = 5
"""Text averaging fewer words than this shares few whole words between rows: character
n-grams within words match "photograph" with "photographs" and names with typos."""


def auto_text_analyzer(values: pd.Series, ngram_range: tuple[int, int]) -> dict[str, Any]:
    """What ``analyzer: auto`` stands for: char_wb 2-4-grams for short text (FEW_WORDS) when
    the n-gram range was left at [1, 1], words otherwise."""
    words = values.dropna().astype(str).str.split().str.len()
    short = bool(len(words)) and float(words.mean()) < FEW_WORDS
    if short and tuple(ngram_range) == (1, 1):
        return {"analyzer": "char_wb", "ngram_range": (2, 4)}
    return {"analyzer": "word"}


def plan_features(frame: pd.DataFrame, features: FeaturesSpec) -> list[ColumnPlan]:
    """One ColumnPlan per column of ``frame`` (the model's input columns), in order."""
    custom = {column for item in features.custom for column in item.columns}
    missing = sorted((set(features.columns) | custom) - set(frame.columns))
    if missing:
        raise FeatureError(
            f"features: columns not in the model's input columns: {', '.join(missing)} "
            f"(input columns: {', '.join(map(str, frame.columns))})"
        )
    plans = []
    for column in frame.columns:
        if column in custom:
            plans.append(ColumnPlan(column, CUSTOM, "custom"))
            continue
        declared = features.columns.get(column)
        if declared is not None and declared.type is not None:
            kind, how, note = declared.type, "declared", ""
        else:
            kind, note = infer_type(frame[column])
            how = "inferred"
        settings = features.settings_for(column, kind) if kind != "ignore" else {}
        if kind == "datetime":  # date parts are numbers: scaled as numbers are
            settings["scale"] = features.numeric.scale
            if settings["parts"] == "auto":
                settings["parts"] = auto_date_parts(frame[column])
        if kind == "text" and settings["analyzer"] == "auto":
            settings.update(auto_text_analyzer(frame[column], tuple(settings["ngram_range"])))
        plans.append(ColumnPlan(column, kind, how, note, settings))
    return plans


def column_problems(frame: pd.DataFrame, plans: list[ColumnPlan]) -> list[tuple[str, str]]:
    """``(column, message)`` for each column whose data does not fit its type or settings,
    naming a few offending values."""
    return [
        (plan.column, problem)
        for plan in plans
        if (problem := _column_problem(frame[plan.column], plan)) is not None
    ]


def check_columns(frame: pd.DataFrame, plans: list[ColumnPlan]) -> None:
    """Raise FeatureError with every column problem in one message."""
    problems = column_problems(frame, plans)
    if problems:
        raise FeatureError("; ".join(message for _, message in problems))


def _column_problem(values: pd.Series, plan: ColumnPlan) -> str | None:
    present = values.dropna()
    name = repr(plan.column)
    if plan.type == "numeric" and _is_text_dtype(values):
        bad = present[pd.to_numeric(present, errors="coerce").isna()]
        if len(bad):
            return f"column {name} is numeric but holds text: {_examples(bad)}"
    if plan.type == "datetime" and pd.api.types.is_numeric_dtype(values):
        return (
            f"column {name} is datetime but holds numbers: {_examples(present)} "
            "(numbers are not read as dates: declare it numeric, or store dates as text "
            "like 2026-01-31)"
        )
    if plan.type == "datetime" and not pd.api.types.is_datetime64_any_dtype(values):
        bad = present[to_datetime(present).isna()]
        if len(bad):
            return f"column {name} is datetime but these values do not parse: {_examples(bad)}"
    if plan.type == "boolean" and _is_text_dtype(values):
        bad = present[~present.astype(str).str.strip().str.lower().isin(BOOLEAN_WORDS)]
        if len(bad):
            return (
                f"column {name} is boolean but holds {_examples(bad)} "
                "(expected true/false, yes/no or 1/0)"
            )
    if plan.type == "text" and present.astype(str).str.strip().eq("").all():
        return f"column {name} is text but every value is empty"
    order = plan.settings.get("order") if plan.type == "categorical" else None
    if order is not None:
        known = {str(v) for v in order}
        bad = present[~present.astype(str).isin(known)]
        if len(bad):
            return (
                f"column {name}: the ordinal order {list(order)} is missing categories "
                f"present in the data: {_examples(bad)}"
            )
    return None
