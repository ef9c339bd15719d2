"""The few transformers scikit-learn has no class for, used by ``ml.features.preprocessing``.

Module-level functions (for FunctionTransformer) and small estimators, so a logged model
refers to them by import path and skops can load them. No Airflow imports: this runs in
the training process, the pod and the model server.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, OneToOneFeatureMixin, TransformerMixin

BOOLEAN_WORDS = {
    "true": 1.0,
    "t": 1.0,
    "yes": 1.0,
    "y": 1.0,
    "1": 1.0,
    "false": 0.0,
    "f": 0.0,
    "no": 0.0,
    "n": 0.0,
    "0": 0.0,
}
"""Text a boolean column may hold (compared lower-cased)."""
_CYCLES = {"month": 12, "dayofweek": 7, "dayofyear": 366, "hour": 24}
_PANDAS_PARTS = {"dayofweek": "day_of_week", "dayofyear": "day_of_year"}
"""The pipeline file's part names that pandas deprecated, and the accessor that replaces them
(the feature keeps the file's name)."""


def _frame(x: Any) -> pd.DataFrame:
    return x if isinstance(x, pd.DataFrame) else pd.DataFrame(x)


def to_number(x: Any) -> pd.DataFrame:
    """Each column as float; text that is not a number becomes missing."""
    return _frame(x).apply(pd.to_numeric, errors="coerce").astype(float)


def to_boolean(x: Any) -> pd.DataFrame:
    """True/False, yes/no, 1/0 (any case) as 1.0/0.0; anything else is missing."""

    def column(values: pd.Series) -> pd.Series:
        if pd.api.types.is_bool_dtype(values) or pd.api.types.is_numeric_dtype(values):
            return values.astype(float)
        words = values.astype("string").str.strip().str.lower()
        return words.map(BOOLEAN_WORDS).astype(float)

    return _frame(x).apply(column)


def to_datetime(values: pd.Series) -> pd.Series:
    """A column of dates, timestamps or date strings as timezone-naive datetimes (NaT when
    missing or not a date)."""
    if pd.api.types.is_datetime64_any_dtype(values):
        parsed = values
    else:
        parsed = pd.to_datetime(values, errors="coerce", format="mixed")
    if getattr(parsed.dt, "tz", None) is not None:
        parsed = parsed.dt.tz_convert("UTC").dt.tz_localize(None)
    return parsed


def datetime_parts(
    x: Any, parts: list[str], cyclical: bool, days_since: str | None
) -> pd.DataFrame:
    """Calendar parts (and sin/cos of the periodic ones, and days since a date) of each
    column, as floats named ``<column>_<part>``; missing dates give missing numbers."""
    columns: dict[str, pd.Series] = {}
    for name, values in _frame(x).items():
        when = to_datetime(values)
        for part in parts:
            value = getattr(when.dt, _PANDAS_PARTS.get(part, part)).astype(float)
            columns[f"{name}_{part}"] = value
            if cyclical and part in _CYCLES:
                angle = 2 * math.pi * value / _CYCLES[part]
                columns[f"{name}_{part}_sin"] = np.sin(angle)
                columns[f"{name}_{part}_cos"] = np.cos(angle)
        if days_since is not None:
            delta = when - pd.Timestamp(days_since)
            columns[f"{name}_days_since"] = delta.dt.total_seconds() / 86400.0
    return pd.DataFrame(columns, index=_frame(x).index)


def datetime_part_names(transformer: Any, input_features: Any) -> list[str]:
    """Output names of ``datetime_parts`` (FunctionTransformer's feature_names_out)."""
    options = transformer.kw_args
    parts, cyclical, days_since = options["parts"], options["cyclical"], options["days_since"]
    names = []
    for name in input_features:
        for part in parts:
            names.append(f"{name}_{part}")
            if cyclical and part in _CYCLES:
                names += [f"{name}_{part}_sin", f"{name}_{part}_cos"]
        if days_since is not None:
            names.append(f"{name}_days_since")
    return names


def text_column(x: Any) -> np.ndarray:
    """One column of text as a 1-D array of strings, missing values as empty text
    (TfidfVectorizer takes 1-D input and no missing values)."""
    values = x.iloc[:, 0] if isinstance(x, pd.DataFrame) else pd.Series(np.ravel(x))
    return values.astype("string").fillna("").to_numpy(dtype=object)


class QuantileClipper(OneToOneFeatureMixin, TransformerMixin, BaseEstimator):
    """Clip each column to quantiles learned on the data it is fitted on (the train split)."""

    def __init__(self, low: float = 0.01, high: float = 0.99) -> None:
        self.low = low
        self.high = high

    def fit(self, x: Any, y: Any = None) -> QuantileClipper:
        values = np.asarray(x, dtype=float)
        self.n_features_in_ = values.shape[1]
        self.lower_ = np.nanquantile(values, self.low, axis=0)
        self.upper_ = np.nanquantile(values, self.high, axis=0)
        return self

    def transform(self, x: Any) -> np.ndarray:
        return np.clip(np.asarray(x, dtype=float), self.lower_, self.upper_)


INFREQUENT = "infrequent"
"""The category NativeCategories puts rare values in when a column has too many."""


class NativeCategories(OneToOneFeatureMixin, TransformerMixin, BaseEstimator):
    """Columns as pandas categoricals with the categories seen in fit, for estimators that
    split on categories themselves (LightGBM, XGBoost, HistGradientBoosting). A category
    not seen in fit becomes missing, which those estimators handle.

    With ``max_categories``, a column with more categories than that keeps its most
    frequent ``max_categories - 1`` and puts the rest, and values not seen in fit, into
    one ``infrequent`` category (HistGradientBoosting takes at most ``max_bins``).

    :param max_categories: the most categories a column keeps (None: all)."""

    def __init__(self, max_categories: int | None = None) -> None:
        self.max_categories = max_categories

    def fit(self, x: Any, y: Any = None) -> NativeCategories:
        frame = _frame(x)
        self.n_features_in_ = frame.shape[1]
        if isinstance(x, pd.DataFrame):
            self.feature_names_in_ = np.asarray(frame.columns, dtype=object)
        limit = self.max_categories
        self.categories_, self.bucketed_ = [], []
        for column in frame.columns:
            counts = frame[column].dropna().astype(str).value_counts()
            bucketed = limit is not None and len(counts) > limit
            if limit is not None and bucketed:  # most frequent first, ties by name
                ranked = sorted(counts.items(), key=lambda item: (-item[1], item[0]))
                kept = [name for name, _ in ranked[: limit - 1]]
                counts = pd.Series(1, index=[*kept, INFREQUENT])
            self.categories_.append(sorted(counts.index))
            self.bucketed_.append(bucketed)
        return self

    def transform(self, x: Any) -> pd.DataFrame:
        frame = _frame(x)
        bucketed = getattr(self, "bucketed_", [False] * len(self.categories_))  # older models
        columns = {}
        for column, categories, rare in zip(frame.columns, self.categories_, bucketed, strict=True):
            text = frame[column].astype("string").where(frame[column].notna())
            if rare:
                text = text.where(text.isna() | text.isin(categories), INFREQUENT)
            # A value not seen in fit is missing (pandas deprecates passing it to Categorical).
            text = text.where(text.isna() | text.isin(categories))
            columns[column] = pd.Categorical(text, categories=categories)
        return pd.DataFrame(columns, index=frame.index)


def to_category_text(x: Any) -> pd.DataFrame:
    """Category codes stored as numbers, as text (missing stays missing): 3.0 and 3 are "3"."""

    def column(values: pd.Series) -> pd.Series:
        text = values.map(
            lambda v: str(int(v)) if isinstance(v, float) and v.is_integer() else str(v),
            na_action="ignore",
        )
        return text.astype(object).where(values.notna(), np.nan)

    return _frame(x).apply(column)


class TextComponents(TransformerMixin, BaseEstimator):
    """scikit-learn's TruncatedSVD (latent semantic analysis of a TF-IDF matrix) with at most
    ``n_components``: fewer when the vocabulary fitted is smaller (TruncatedSVD refuses as
    many components as columns; a short text column has a small vocabulary).

    :param n_components: the most components kept.
    :param random_state: the seed of the randomized SVD."""

    def __init__(self, n_components: int = 30, random_state: int | None = None) -> None:
        self.n_components = n_components
        self.random_state = random_state

    def fit(self, x: Any, y: Any = None) -> TextComponents:
        self.fit_transform(x)
        return self

    def fit_transform(self, x: Any, y: Any = None, **params: Any) -> np.ndarray:
        from sklearn.decomposition import TruncatedSVD

        width = max(1, min(self.n_components, x.shape[1] - 1, x.shape[0] - 1))
        self.svd_ = TruncatedSVD(n_components=width, random_state=self.random_state)
        return self.svd_.fit_transform(x)

    def transform(self, x: Any) -> np.ndarray:
        return self.svd_.transform(x)

    def get_feature_names_out(self, input_features: Any = None) -> np.ndarray:
        return np.asarray([f"component{i}" for i in range(self.svd_.n_components)], dtype=object)
