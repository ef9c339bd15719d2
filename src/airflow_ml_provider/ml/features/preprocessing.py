"""The features section as a scikit-learn pipeline: one ColumnTransformer in front of the
estimator, fitted on the train split and logged as one model, so the model takes raw rows.

Only the mapping from feature types and settings to scikit-learn's own transformers is
written here (SimpleImputer, OneHotEncoder, OrdinalEncoder, TargetEncoder, TfidfVectorizer,
scalers, FunctionTransformer); ``ml.transformers`` holds the three small pieces scikit-learn
has no class for. No Airflow imports: this runs in the training process and the pod.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd

from airflow_ml_provider.core.allow_lists import DEFAULT_TRANSFORMER_PREFIXES
from airflow_ml_provider.core.features import CustomTransformerSpec, FeaturesSpec
from airflow_ml_provider.core.training_job import TrainingJob
from airflow_ml_provider.ml import transformers as own
from airflow_ml_provider.ml.features.column_types import (
    CUSTOM,
    ColumnPlan,
    FeatureError,
    check_columns,
    plan_features,
)
from airflow_ml_provider.ml.features.estimator_needs import resolve_plans
from airflow_ml_provider.ml.integrity.allowed_code import (
    DisallowedCodeError,
    resolve_callable,
    resolve_class,
    resolved_params,
    transformer_kind,
)

MISSING = "missing"


def _numeric(s: dict[str, Any], coerce: bool) -> list:
    from sklearn.impute import SimpleImputer
    from sklearn.preprocessing import (
        FunctionTransformer,
    )

    steps: list = []
    if coerce:  # numbers stored as text
        steps.append(FunctionTransformer(own.to_number, feature_names_out="one-to-one"))
    if s["impute"] != "none":
        steps.append(SimpleImputer(strategy=s["impute"], fill_value=s["fill_value"]))
    if s["clip"]:
        steps.append(own.QuantileClipper(*s["clip"]))
    if s["log1p"]:
        steps.append(FunctionTransformer(np.log1p, feature_names_out="one-to-one"))
    steps.extend(_scaler(s.get("scale", "none")))
    return steps or ["passthrough"]


def _scaler(scale: str) -> list:
    """The scaler ``scale`` names (none for ``none`` or an unresolved auto): scikit-learn's,
    or skrub's SquashingScaler (scikit-learn has no scaler that bounds outliers; skrub is
    an extra, imported only for it: its import costs ~1.5 s beyond scikit-learn's)."""
    from sklearn.preprocessing import MinMaxScaler, RobustScaler, StandardScaler

    if scale == "squashing":
        try:
            from skrub import SquashingScaler
        except ImportError:
            raise FeatureError(
                "features: scale squashing needs skrub: pip install 'airflow-ml-provider[skrub]'"
            ) from None
        return [SquashingScaler()]
    scalers = {"standard": StandardScaler, "robust": RobustScaler, "minmax": MinMaxScaler}
    return [scalers[scale]()] if scale in scalers else []


def _categorical(s: dict[str, Any], columns: list[str], as_text: bool, dense: bool, seed: int):
    from sklearn.impute import SimpleImputer
    from sklearn.preprocessing import (
        FunctionTransformer,
        OneHotEncoder,
        OrdinalEncoder,
        TargetEncoder,
    )

    encoding = s["encoding"]
    steps: list = []
    if as_text:  # codes stored as numbers: categories are their text
        steps.append(FunctionTransformer(own.to_category_text, feature_names_out="one-to-one"))
    if encoding == "native":
        return [*steps, own.NativeCategories(max_categories=s.get("native_limit"))]
    if encoding == "ordinal":
        order = s.get("order")
        categories = [[str(v) for v in order]] * len(columns) if order else "auto"
        return [
            *steps,
            OrdinalEncoder(
                categories=categories,
                handle_unknown="use_encoded_value",
                unknown_value=-1,
                encoded_missing_value=-1,
            ),
        ]
    if s["impute"] != "none":
        fill = {"missing": "constant", "most_frequent": "most_frequent"}[s["impute"]]
        steps.append(SimpleImputer(strategy=fill, fill_value=MISSING))
    if encoding == "target":
        return [*steps, TargetEncoder(random_state=seed)]
    return [
        *steps,
        OneHotEncoder(
            handle_unknown="infrequent_if_exist",
            max_categories=s["max_categories"],
            min_frequency=s["min_frequency"],
            sparse_output=not dense,
        ),
    ]


def _boolean(s: dict[str, Any]) -> list:
    from sklearn.impute import SimpleImputer
    from sklearn.preprocessing import FunctionTransformer

    steps: list = [FunctionTransformer(own.to_boolean, feature_names_out="one-to-one")]
    if s["impute"] != "none":
        steps.append(SimpleImputer(strategy="most_frequent"))
    return steps


def _datetime(s: dict[str, Any]) -> list:
    from sklearn.impute import SimpleImputer
    from sklearn.preprocessing import FunctionTransformer

    options = {
        "parts": list(s["parts"]),
        "cyclical": s["cyclical"],
        "days_since": str(s["days_since"]) if s["days_since"] else None,
    }
    return [
        FunctionTransformer(
            own.datetime_parts, kw_args=options, feature_names_out=own.datetime_part_names
        ),
        SimpleImputer(strategy="median", keep_empty_features=True),
        *_scaler(s.get("scale", "none")),
    ]


def _text(s: dict[str, Any], callables: tuple[str, ...], seed: int) -> list:
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.preprocessing import FunctionTransformer

    tokenizer = s["tokenizer"]
    steps = [
        FunctionTransformer(own.text_column),
        TfidfVectorizer(
            max_features=s["max_features"],
            ngram_range=tuple(s["ngram_range"]),
            min_df=s["min_df"],
            analyzer=s["analyzer"],
            lowercase=s["lowercase"],
            sublinear_tf=s["sublinear_tf"],
            tokenizer=_allowed(resolve_callable, tokenizer, callables) if tokenizer else None,
            token_pattern=None if tokenizer else r"(?u)\b\w\w+\b",
        ),
    ]
    components = s["components"]
    if isinstance(components, int):
        steps.append(own.TextComponents(n_components=components, random_state=seed))
    return steps


def _allowed(resolve: Callable[..., Any], *args: Any) -> Any:
    """``resolve(*args)`` (an ``ml.integrity.allowed_code`` resolver) with its refusal as
    FeatureError."""
    try:
        return resolve(*args)
    except DisallowedCodeError as exc:
        raise FeatureError(str(exc)) from None


def _custom(item: CustomTransformerSpec, prefixes: tuple[str, ...], callables: tuple[str, ...]):
    from sklearn.base import clone

    from airflow_ml_provider.ml.features.estimators import EstimatorError, check_param_values

    setting = "allowed_transformer_modules"
    transformer_class = _allowed(resolve_class, item.class_, prefixes, setting, transformer_kind)
    params = _allowed(resolved_params, transformer_class, item.params, item.class_, callables)
    try:
        transformer = transformer_class(**params)
        clone(transformer)
        check_param_values(transformer, item.class_)
    except EstimatorError as exc:
        raise FeatureError(str(exc)) from None
    except Exception as exc:  # the team's constructor rejected its params
        raise FeatureError(f"transformer {item.class_} rejected its params: {exc}") from None
    return transformer


def build_preprocessor(
    plans: list[ColumnPlan],
    frame: pd.DataFrame,
    features: FeaturesSpec,
    *,
    sparse_ok: bool,
    allowed_prefixes: tuple[str, ...] = DEFAULT_TRANSFORMER_PREFIXES,
    callables: tuple[str, ...] = (),
    seed: int = 0,
    route_columns: bool = True,
):
    """An unfitted ColumnTransformer for resolved ``plans``: one transformer per group of
    columns with the same type and settings, one per text column and per custom item.
    Native categoricals need a DataFrame between the steps (pandas output), which sparse
    TF-IDF output cannot join.

    Without ``route_columns``, when one numeric or boolean group takes every column of
    ``frame`` in order, that group's own pipeline instead: the same transformation without
    the ColumnTransformer, whose input checks and fitted state cost several times a small
    model's fit (per-partition models are fitted, saved and loaded by the thousand)."""
    from sklearn.compose import ColumnTransformer
    from sklearn.pipeline import make_pipeline

    native = [p.column for p in plans if p.settings.get("encoding") == "native"]
    text = [p.column for p in plans if p.type == "text"]
    if native and text:
        raise FeatureError(
            f"categorical columns {', '.join(native)} use encoding native, which keeps a "
            f"DataFrame between the steps; text columns {', '.join(text)} give sparse TF-IDF "
            "output that cannot join it: set their encoding to onehot or ordinal"
        )
    dense = bool(native) or not sparse_ok
    groups: dict[tuple[Any, ...], list[str]] = defaultdict(list)
    for plan in plans:
        if plan.type in ("ignore", CUSTOM):
            continue
        key: tuple[Any, ...] = (
            plan.type,
            repr(sorted(plan.settings.items())),
            plan.column if plan.type == "text" else "",
        )
        if plan.type in ("numeric", "categorical"):
            key += (not pd.api.types.is_numeric_dtype(frame[plan.column]),)  # stored as text
        groups[key].append(plan.column)
    parts: list[tuple[str, Any, list[str]]] = []
    kinds = []
    for key, columns in groups.items():
        kind, settings = key[0], dict(next(p.settings for p in plans if p.column == columns[0]))
        if kind == "numeric":
            steps = _numeric(settings, coerce=key[-1])
        elif kind == "categorical":
            steps = _categorical(settings, columns, as_text=not key[-1], dense=dense, seed=seed)
        elif kind == "boolean":
            steps = _boolean(settings)
        elif kind == "datetime":
            steps = _datetime(settings)
        else:
            steps = _text(settings, callables, seed)
        name = f"{kind}_{len(parts)}" if kind != "text" else f"text_{columns[0]}"
        parts.append((name, make_pipeline(*steps), columns))
        kinds.append(kind)
    for index, item in enumerate(features.custom):
        transformer = _custom(item, allowed_prefixes, callables)
        parts.append((f"custom_{index}", transformer, list(item.columns)))
    if not parts:
        raise FeatureError("features: every input column is ignored; nothing to train on")
    if (
        not route_columns
        and len(parts) == len(kinds) == 1
        and kinds[0] in ("numeric", "boolean")
        and parts[0][2] == list(frame.columns)
    ):
        return parts[0][1]
    preprocessor = ColumnTransformer(
        parts, remainder="drop", sparse_threshold=0.0 if dense else 0.3
    )
    if native:
        preprocessor.set_output(transform="pandas")
    return preprocessor


def extra_modules(job: TrainingJob) -> list[str]:
    """Modules beyond the estimator's and scikit-learn's a model refers to — the team code of
    its tokenizers and custom transformers, skrub for ``scale: squashing`` — which the
    model's environment must install."""
    features = job.features
    settings = [
        *(features.get(kind) or {} for kind in ("text", "numeric")),
        *(features.get("columns") or {}).values(),
    ]
    tokenizers = [s.get("tokenizer") for s in settings if isinstance(s, dict)]
    squashing = any(isinstance(s, dict) and s.get("scale") == "squashing" for s in settings)
    classes = [item.get("class") for item in features.get("custom") or []]
    return [path for path in [*tokenizers, *classes, "skrub" if squashing else None] if path]


def model_columns(plans: list[ColumnPlan]) -> list[str]:
    """The raw columns the model takes (every input column not ignored)."""
    return [plan.column for plan in plans if plan.type != "ignore"]


def resolve_features(
    job: TrainingJob, x_train: pd.DataFrame
) -> tuple[FeaturesSpec, list[ColumnPlan]]:
    """``(features, plans)``: the job's features section and each input column's resolved
    plan, inferred on ``x_train`` (the train split's input columns), which is checked
    against it (FeatureError naming the column and values)."""
    from pydantic import ValidationError

    try:
        features = FeaturesSpec.model_validate(
            job.features,
            context={
                "allowed_transformer_modules": transformer_prefixes(job),
                "allowed_callables": tuple(job.allowed_callables),
            },
        )
    except ValidationError as exc:
        problems = "; ".join(
            f"features.{'.'.join(map(str, error['loc']))}: {error['msg']}" for error in exc.errors()
        )
        raise FeatureError(problems) from None
    plans = resolve_plans(plan_features(x_train, features), job.estimator, job.params)
    check_columns(x_train, plans)
    return features, plans


def transformer_prefixes(job: TrainingJob) -> tuple[str, ...]:
    return tuple(job.allowed_transformer_modules or DEFAULT_TRANSFORMER_PREFIXES)


def build_pipeline(
    job: TrainingJob,
    features: FeaturesSpec,
    plans: list[ColumnPlan],
    x_train: pd.DataFrame,
    *,
    route_columns: bool = True,
) -> Any:
    """An unfitted ``Pipeline([("preprocess", ColumnTransformer), ("model", estimator)])``
    for resolved ``plans`` (see ``build_preprocessor`` for ``route_columns``)."""
    from sklearn.pipeline import Pipeline

    from airflow_ml_provider.ml.features.estimators import build_estimator
    from airflow_ml_provider.ml.labels import EncodedLabelClassifier, needs_label_codes

    path = job.estimator_path
    params = dict(job.params)
    native = any(p.settings.get("encoding") == "native" for p in plans)
    if native and path.startswith("xgboost."):
        params.setdefault("enable_categorical", True)
    callables = tuple(job.allowed_callables)
    estimator = build_estimator(path, params, tuple(job.allowed_estimator_modules), callables)
    try:
        sparse_ok = bool(estimator.__sklearn_tags__().input_tags.sparse)
    except AttributeError:  # an estimator without scikit-learn's tags
        sparse_ok = False
    preprocessor = build_preprocessor(
        plans,
        x_train,
        features,
        sparse_ok=sparse_ok,
        allowed_prefixes=transformer_prefixes(job),
        callables=callables,
        seed=job.data.split.seed,
        route_columns=route_columns,
    )
    if job.task == "classification" and needs_label_codes(path):
        estimator = EncodedLabelClassifier(estimator)
    return Pipeline([("preprocess", preprocessor), ("model", estimator)])


def build_model(job: TrainingJob, x_train: pd.DataFrame):
    """``(pipeline, plans)``: the features section resolved on ``x_train`` and an unfitted
    pipeline of preprocessing and estimator."""
    features, plans = resolve_features(job, x_train)
    return build_pipeline(job, features, plans, x_train), plans
