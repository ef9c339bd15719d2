"""The ``features:`` section: each input column's type and its preprocessing.

This is the one home of the preprocessing defaults. The spec validates YAML against these
models at parse time (pydantic only), the training job carries the section as JSON and the
training process reads it back with the same models.
"""

from __future__ import annotations

import datetime as dt
from typing import Any, Literal, get_args

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator, model_validator

from airflow_ml_provider.core.allow_lists import (
    DEFAULT_TRANSFORMER_PREFIXES,
    Params,
    allowed_callable,
    in_allowed_module,
)

FeatureType = Literal["numeric", "categorical", "boolean", "datetime", "text", "ignore"]
FEATURE_TYPES: tuple[str, ...] = get_args(FeatureType)
DatetimePart = Literal["year", "month", "day", "dayofweek", "dayofyear", "hour", "minute"]
_DOTTED = r"^[A-Za-z_][\w]*(\.[A-Za-z_][\w]*)+$"


class _Strict(BaseModel):
    # Finite numbers only: `min_improvement: -.inf` would promote anything, `.nan` nothing.
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


def allowed_transformer(value: str, info: ValidationInfo) -> str:
    """``value`` if it is a public class path in an ``allowed_transformer_modules`` package."""
    return in_allowed_module(
        value, info, "allowed_transformer_modules", DEFAULT_TRANSFORMER_PREFIXES
    )


class NumericSpec(_Strict):
    """Numbers: impute, then clip, log1p and scale (each optional)."""

    impute: Literal["median", "mean", "constant", "none"] = Field(
        "median", description="How missing values are filled (none: left for the estimator)."
    )
    fill_value: float = Field(0.0, description="impute: constant fills with this value.")
    clip: tuple[float, float] | None = Field(
        None, description="Clip to these quantiles of the train split, e.g. [0.01, 0.99]."
    )
    log1p: bool = Field(False, description="Apply log(1 + x) (after clipping).")
    scale: Literal["auto", "none", "squashing", "standard", "robust", "minmax"] = Field(
        "auto",
        description="standard (z-score), robust (median/IQR), minmax (to [0, 1]), squashing "
        "(skrub's SquashingScaler: median/IQR, then a soft clip to +-3, so an outlier cannot "
        "dominate; needs the skrub extra) or none; auto: standard for estimators that need "
        "scaled inputs (linear models, SVMs, nearest neighbours, neural networks, kernel "
        "ridge, Gaussian processes), none for trees. Date parts are scaled the same way.",
    )

    @field_validator("clip")
    @classmethod
    def _quantiles(cls, value: tuple[float, float] | None) -> tuple[float, float] | None:
        if value is not None and not 0 <= value[0] < value[1] <= 1:
            raise ValueError(f"expected two quantiles 0 <= low < high <= 1, got {list(value)}")
        return value


class CategoricalSpec(_Strict):
    """Strings or codes from a small set: impute, then encode."""

    impute: Literal["missing", "most_frequent", "none"] = Field(
        "missing", description="missing: a category of its own; most_frequent; none."
    )
    encoding: Literal["auto", "onehot", "ordinal", "target", "native"] = Field(
        "auto",
        description="onehot (infrequent bucket, unseen categories ignored), ordinal (with "
        "`order` when given), target (scikit-learn's TargetEncoder, high cardinality) or "
        "native (LightGBM, XGBoost, HistGradientBoosting take the categories themselves); "
        "auto: native for those estimators, onehot otherwise.",
    )
    max_categories: int | None = Field(
        40, ge=2, description="onehot: the most frequent categories kept; the rest is one bucket."
    )
    min_frequency: int | float | None = Field(
        5,
        gt=0,
        description="onehot: rarer categories (count, or share if < 1) are bucketed (a "
        "category seen a few times only teaches a linear model noise).",
    )
    order: list[str | int | float | bool] | None = Field(
        None, description="ordinal: the categories from lowest to highest, e.g. Fair, Good."
    )


class BooleanSpec(_Strict):
    """True/false values (also yes/no, 1/0 strings): as 0/1, missing filled."""

    impute: Literal["most_frequent", "none"] = Field(
        "most_frequent", description="How missing values are filled."
    )


class DatetimeSpec(_Strict):
    """Dates and timestamps (or strings that parse as such): calendar parts and an age."""

    parts: list[DatetimePart] | Literal["auto"] = Field(
        "auto",
        description="Calendar parts, each a number: year, month, day, dayofweek, dayofyear, "
        "hour, minute; auto: year, month, day, dayofweek, and hour when the column holds "
        "times of day.",
    )
    cyclical: bool = Field(
        False, description="Also encode month, day of week/year and hour as sin/cos pairs."
    )
    days_since: dt.date | None = Field(
        dt.date(1970, 1, 1), description="Add days since this date as a number (null: off)."
    )


class TextSpec(_Strict):
    """Free text: TF-IDF over words (or characters)."""

    max_features: int = Field(
        5000, ge=1, le=1_000_000, description="Vocabulary size (most frequent terms)."
    )
    ngram_range: tuple[int, int] = Field((1, 1), description="Smallest and largest n-gram.")
    min_df: int | float = Field(1, gt=0, description="Ignore terms in fewer documents.")
    analyzer: Literal["auto", "word", "char", "char_wb"] = Field(
        "auto",
        description="word, char or char_wb (character n-grams inside words); auto: char_wb "
        "2-4-grams when the values average under 5 words (names, titles: too few words to "
        "share) and ngram_range is left at [1, 1], words otherwise.",
    )
    lowercase: bool = True
    sublinear_tf: bool = Field(
        True,
        description="Count a term 1 + log(count) times: a repeated word does not drown the rest.",
    )
    components: int | Literal["auto"] | None = Field(
        "auto",
        description="Reduce the TF-IDF to this many components (TruncatedSVD, latent semantic "
        "analysis); auto: 30 for tree models (which split best on a few dense columns), none "
        "for the rest (linear models take the sparse TF-IDF as it is).",
    )

    @field_validator("components")
    @classmethod
    def _positive(cls, value: int | str | None) -> int | str | None:
        if isinstance(value, int) and value < 1:
            raise ValueError("expected a number of components >= 1, auto or null")
        return value

    tokenizer: str | None = Field(
        None,
        pattern=_DOTTED,
        description="Import path of a callable str -> list[str] (e.g. a Japanese "
        "tokenizer); must be listed by exact name in [ml_provider] allowed_callables.",
    )

    @field_validator("tokenizer")
    @classmethod
    def _allowed(cls, value: str | None, info: ValidationInfo) -> str | None:
        return None if value is None else allowed_callable(value, info)

    @field_validator("ngram_range")
    @classmethod
    def _ordered(cls, value: tuple[int, int]) -> tuple[int, int]:
        if not 1 <= value[0] <= value[1]:
            raise ValueError("expected [smallest, largest] with 1 <= smallest <= largest")
        return value


TYPE_SETTINGS: dict[str, type[_Strict]] = {
    "numeric": NumericSpec,
    "categorical": CategoricalSpec,
    "boolean": BooleanSpec,
    "datetime": DatetimeSpec,
    "text": TextSpec,
}
"""Settings model of each feature type (``ignore`` has none)."""


class ColumnSpec(_Strict):
    """One column: its type and any of that type's settings (the rest from the type's
    defaults). In YAML a plain type name is shorthand for ``{type: ...}``."""

    model_config = ConfigDict(extra="allow", frozen=True)

    type: FeatureType | None = Field(None, description="Declared type; null: inferred.")

    @model_validator(mode="before")
    @classmethod
    def _shorthand(cls, value: Any) -> Any:
        return {"type": value} if isinstance(value, str) else value

    @model_validator(mode="after")
    def _settings_fit_the_type(self, info: ValidationInfo) -> ColumnSpec:
        options = dict(self.model_extra or {})
        if not options:
            return self
        if self.type is None or self.type == "ignore":
            raise ValueError(
                f"settings {sorted(options)} need the column's type (e.g. type: categorical)"
            )
        allowed = TYPE_SETTINGS[self.type].model_fields
        unknown = sorted(set(options) - set(allowed))
        if unknown:
            raise ValueError(
                f"{', '.join(unknown)} is not a {self.type} setting; expected {', '.join(allowed)}"
            )
        TYPE_SETTINGS[self.type].model_validate(options, context=info.context)
        return self

    @property
    def options(self) -> dict[str, Any]:
        """The settings given for this column (overriding its type's defaults)."""
        return dict(self.model_extra or {})


class CustomTransformerSpec(_Strict):
    """A team's own scikit-learn transformer over some columns (fitted on the train split)."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    class_: str = Field(
        alias="class",
        pattern=_DOTTED,
        description="Import path of a scikit-learn compatible transformer, e.g. "
        "acme_features.text.TextLength: a class in a package of [ml_provider] "
        "allowed_transformer_modules.",
    )
    columns: list[str] = Field(min_length=1, description="Input columns it transforms.")
    params: Params = Field(
        default_factory=dict, description="Constructor parameters (plain data only)."
    )

    @field_validator("class_")
    @classmethod
    def _allowed(cls, value: str, info: ValidationInfo) -> str:
        return allowed_transformer(value, info)


class FeaturesSpec(_Strict):
    """How input columns become model inputs. Every column gets a type, inferred from the
    data unless declared; preprocessing is fitted on the train split inside the training job
    and logged in the same MLflow model as the estimator, so the model takes raw rows."""

    numeric: NumericSpec = NumericSpec()
    categorical: CategoricalSpec = CategoricalSpec()
    boolean: BooleanSpec = BooleanSpec()
    datetime: DatetimeSpec = DatetimeSpec()
    text: TextSpec = TextSpec()
    columns: dict[str, ColumnSpec] = Field(
        default_factory=dict,
        description="Per column: a type (numeric, categorical, boolean, datetime, text, "
        "ignore) or {type: ..., <that type's settings>}.",
    )
    custom: list[CustomTransformerSpec] = Field(
        default_factory=list,
        description="Team transformers: [{class: pkg.module.Class, columns: [...], params: {}}].",
    )

    @model_validator(mode="after")
    def _each_column_once(self) -> FeaturesSpec:
        seen: dict[str, int] = {}
        for index, item in enumerate(self.custom):
            for column in item.columns:
                if column in seen:
                    raise ValueError(
                        f"column {column!r} is in custom items {seen[column]} and {index}"
                    )
                seen[column] = index
        return self

    def settings_for(self, column: str, feature_type: str) -> dict[str, Any]:
        """The settings of one column of ``feature_type``: the type's defaults, then the
        column's own."""
        base = getattr(self, feature_type).model_dump()
        declared = self.columns.get(column)
        return {**base, **(declared.options if declared else {})}
