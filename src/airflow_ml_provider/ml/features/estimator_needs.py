"""What each estimator family needs from the features section: which ``auto`` settings mean
what for it — the categorical encoding (native categories for the boosted trees), scaling
(for linear, kernel, distance-based and neural estimators), TF-IDF reduced for trees — and
the most categories HistGradientBoosting takes. Used by training (ml.features.preprocessing) and by
``airflow-ml check`` (its feature table). No Airflow imports.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from airflow_ml_provider.ml.features.column_types import ColumnPlan

HIST_GRADIENT_BOOSTING = "sklearn.ensemble.HistGradientBoosting"
NATIVE_CATEGORICAL_ESTIMATORS = ("lightgbm.", "xgboost.", HIST_GRADIENT_BOOSTING)
"""Estimators that split on pandas categoricals themselves (encoding: native)."""
SCALED_ESTIMATORS = (
    "sklearn.linear_model.",
    "sklearn.svm.",
    "sklearn.neighbors.",
    "sklearn.neural_network.",
    "sklearn.kernel_ridge.",
    "sklearn.gaussian_process.",
)
"""Estimators whose fit depends on the inputs' scale (``scale: auto`` standardises for them:
an unscaled date part or count stalls lbfgs and dominates distances)."""
TREE_ESTIMATORS = ("sklearn.ensemble.", "sklearn.tree.", "lightgbm.", "xgboost.")
"""Estimators that split on features (``text.components: auto`` reduces TF-IDF for them)."""
TEXT_COMPONENTS = 30
"""What ``components: auto`` gives a tree model: skrub's StringEncoder default."""
HIST_GRADIENT_BOOSTING_MAX_BINS = 255
"""Its default and largest ``max_bins``: a native categorical may have at most that many."""


def resolved_encoding(settings: dict[str, Any], estimator_path: str | None, has_text: bool) -> str:
    """The categorical encoding ``auto`` stands for: ordinal with an order, native for
    estimators that take categories (unless text columns need sparse output), else onehot;
    still ``auto`` without an estimator (candidates: each resolves it for its own)."""
    encoding = settings["encoding"]
    if encoding != "auto":
        return encoding
    if settings.get("order"):
        return "ordinal"
    if estimator_path is None:
        return "auto"
    native = estimator_path.startswith(NATIVE_CATEGORICAL_ESTIMATORS) and not has_text
    return "native" if native else "onehot"


def resolved_scale(scale: str, estimator_path: str | None) -> str:
    """The scaling ``auto`` stands for: standard for SCALED_ESTIMATORS, none for the rest;
    still ``auto`` without an estimator (candidates: each resolves it for its own)."""
    if scale != "auto" or estimator_path is None:
        return scale
    return "standard" if estimator_path.startswith(SCALED_ESTIMATORS) else "none"


def native_category_limit(path: str | None, params: dict[str, Any] | None) -> int | None:
    """The most categories an estimator takes natively: HistGradientBoosting refuses a
    column with more than ``max_bins``; LightGBM and XGBoost have no such limit (nor a
    pipeline of candidates, ``path`` None, whose estimators are resolved one by one)."""
    if path is None or not path.startswith(HIST_GRADIENT_BOOSTING):
        return None
    max_bins = (params or {}).get("max_bins")
    return max_bins if isinstance(max_bins, int) else HIST_GRADIENT_BOOSTING_MAX_BINS


def resolve_plans(
    plans: list[ColumnPlan], path: str | None, params: dict[str, Any] | None = None
) -> list[ColumnPlan]:
    """The plans with ``encoding: auto`` replaced by the encoding it means here, and for a
    native encoding the most categories the estimator takes (``native_limit``)."""
    has_text = any(plan.type == "text" for plan in plans)
    limit = native_category_limit(path, params)
    resolved = []
    for plan in plans:
        if plan.type == "categorical":
            settings = {
                **plan.settings,
                "encoding": resolved_encoding(plan.settings, path, has_text),
            }
            if settings["encoding"] == "native" and limit is not None:
                settings["native_limit"] = limit
            plan = replace(plan, settings=settings)
        if plan.type == "text" and plan.settings.get("components") == "auto" and path:
            tree = path.startswith(TREE_ESTIMATORS)
            components = TEXT_COMPONENTS if tree else None
            plan = replace(plan, settings={**plan.settings, "components": components})
        if plan.type in ("numeric", "datetime") and "scale" in plan.settings:
            scale = resolved_scale(plan.settings["scale"], path)
            plan = replace(plan, settings={**plan.settings, "scale": scale})
        resolved.append(plan)
    return resolved
