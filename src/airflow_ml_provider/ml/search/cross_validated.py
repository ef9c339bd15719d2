"""Hyper-parameter search around the estimator: GridSearchCV / RandomizedSearchCV.

The job's ``search`` section (``training.search`` in the YAML) is
``{"method": "grid" | "random", "params": {...}, "cv": int, "n_iter": int, "scoring": str}``.
Each parameter is a list of values or, for random search, a distribution
``{"distribution": "uniform" | "loguniform" | "randint", "low": ..., "high": ...}``:

* ``uniform``: continuous, ``low <= x <= high`` (scipy's ``uniform(loc=low, scale=high-low)``)
* ``loguniform``: continuous on a log scale, ``0 < low <= x <= high``
* ``randint``: an integer, ``low <= x <= high`` — both ends included
  (scipy's ``randint(low, high + 1)``, whose upper end is exclusive)

The search runs on the train split only; the held-out split stays for evaluation.
No Airflow imports: this runs inside the training pod.
"""

from __future__ import annotations

import math
from typing import Any, TypeGuard

from airflow_ml_provider.core.errors import AirflowMlError
from airflow_ml_provider.core.metrics import METRICS
from airflow_ml_provider.ml.evaluation.scoring import cv_scorer
from airflow_ml_provider.ml.features.estimators import check_param_names as check_names

CV_RESULTS_ARTIFACT = "search/cv_results.csv"
BEST_PARAM_PREFIX = "best."


class SearchError(AirflowMlError, ValueError):
    """The search section cannot be used with this estimator."""


def _is_number(value: object) -> TypeGuard[float]:
    return isinstance(value, int | float) and not isinstance(value, bool)


def checked_bounds(name: str, spec: dict[str, Any]) -> tuple[str, float, float]:
    """``(kind, low, high)`` of one ``{distribution, low, high}`` entry, or SearchError."""
    kind, low, high = spec.get("distribution"), spec.get("low"), spec.get("high")
    if not (_is_number(low) and _is_number(high)):
        raise SearchError(f"search parameter {name!r}: low and high must be numbers")
    if kind == "randint":
        if not (float(low).is_integer() and float(high).is_integer()):
            raise SearchError(f"search parameter {name!r}: randint needs integer low and high")
        if low > high:
            raise SearchError(f"search parameter {name!r}: low {low} is above high {high}")
        return kind, int(low), int(high)
    if not (math.isfinite(low) and math.isfinite(high)) or low >= high:
        raise SearchError(f"search parameter {name!r}: need finite low < high, got {low}, {high}")
    if kind == "loguniform" and low <= 0:
        raise SearchError(f"search parameter {name!r}: loguniform needs low > 0, got {low}")
    if kind not in ("uniform", "loguniform"):
        raise SearchError(
            f"search parameter {name!r}: distribution must be uniform, loguniform or randint, "
            f"got {kind!r}"
        )
    return kind, low, high


def distribution(name: str, spec: dict[str, Any]):
    """The scipy.stats frozen distribution for one ``{distribution, low, high}`` entry."""
    from scipy import stats

    kind, low, high = checked_bounds(name, spec)
    if kind == "randint":
        return stats.randint(int(low), int(high) + 1)
    if kind == "uniform":
        return stats.uniform(loc=low, scale=high - low)
    return stats.loguniform(low, high)


def check_param_names(estimator: Any, names: list[str], estimator_path: str) -> None:
    """Reject a parameter the estimator (or, for ``preprocess__`` names, the preprocessing)
    does not have, naming it as written (with a suggestion)."""
    prefix = estimator_prefix(estimator)
    valid = [
        name.removeprefix(prefix)
        for name in estimator.get_params(deep=True)
        if name.startswith((prefix, PREPROCESS_PREFIX))
    ]
    check_names(valid, names, estimator_path, "search parameter")


def param_space(method: str, params: dict[str, Any]) -> dict[str, Any]:
    """The param_grid (grid) or param_distributions (random) scikit-learn takes."""
    if not params:
        raise SearchError("search: give at least one parameter under params")
    space: dict[str, Any] = {}
    for name, options in params.items():
        if isinstance(options, list):
            if not options:
                raise SearchError(f"search parameter {name!r}: give at least one value")
            space[name] = list(options)
        elif isinstance(options, dict):
            if method == "grid":
                raise SearchError(
                    f"search parameter {name!r}: grid search takes a list of values; "
                    "distributions need method: random"
                )
            space[name] = distribution(name, options)
        else:
            raise SearchError(f"search parameter {name!r}: expected a list or a distribution")
    return space


def scoring_metric(search: dict[str, Any], metrics: list[str]) -> str:
    """The metric name the search optimises: its own, else the job's primary metric."""
    name = search.get("scoring") or metrics[0]
    if name not in METRICS:
        raise SearchError(f"search scoring: unknown metric {name!r}")
    return name


def build_search(
    estimator: Any,
    search: dict[str, Any],
    *,
    metrics: list[str],
    seed: int,
    estimator_path: str,
    positive: Any = None,
):
    """An unfitted GridSearchCV / RandomizedSearchCV (refit=True) around ``estimator``,
    scoring a binary metric of one class with ``positive`` as the positive class."""
    from sklearn.model_selection import GridSearchCV, RandomizedSearchCV

    method = search.get("method")
    if method not in ("grid", "random"):
        raise SearchError(
            f"search method must be grid or random, got {method!r} (an Optuna search runs "
            "as candidate workers: train_candidates, see ml.search.optuna_study)"
        )
    space = param_space(method, model_param_names(estimator, search, estimator_path))
    scorer = cv_scorer(scoring_metric(search, metrics), positive)
    cv = int(search.get("cv") or 5)
    if method == "grid":
        return GridSearchCV(estimator, space, scoring=scorer, cv=cv, refit=True)
    return RandomizedSearchCV(
        estimator,
        space,
        n_iter=int(search.get("n_iter") or 20),
        scoring=scorer,
        cv=cv,
        refit=True,
        random_state=seed,
    )


def model_param_names(
    estimator: Any, search: dict[str, Any], estimator_path: str
) -> dict[str, Any]:
    """The search's params keyed as ``estimator.set_params`` takes them (checked first)."""
    prefix = estimator_prefix(estimator)
    given = search.get("params") or {}
    check_param_names(estimator, list(given), estimator_path)
    return {
        name if name.startswith(PREPROCESS_PREFIX) else prefix + name: options
        for name, options in given.items()
    }


PREPROCESS_PREFIX = "preprocess__"
"""Search parameters naming the preprocessing (scikit-learn's nested names, e.g.
preprocess__numeric_1__simpleimputer__strategy); every other name is the estimator's."""


def estimator_prefix(model: Any) -> str:
    """How the estimator's own parameter names are spelled inside ``model``: ``model__``
    in a preprocessing Pipeline (``model__estimator__`` when its labels are encoded)."""
    steps = getattr(model, "named_steps", None)
    if not steps:
        return ""
    from airflow_ml_provider.ml.labels import EncodedLabelClassifier

    wrapped = isinstance(steps["model"], EncodedLabelClassifier)
    return "model__estimator__" if wrapped else "model__"


def natural(value: float, scorer: str) -> float:
    """sklearn's neg_* scorers are negated; the provider reports metrics in their own sign."""
    return -value if scorer.startswith("neg_") else value


def _json_scalar(value: Any) -> Any:
    """A plain Python scalar for a cv_results_ cell, or raise TypeError when there is none."""
    import numpy as np

    if value is None or value is np.ma.masked:
        return None
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, str | bool | int | float):
        return value
    raise TypeError(type(value).__name__)


def cv_results_table(search_cv: Any, metric: str):
    """cv_results_ as a DataFrame of JSON-able columns, scores in the metric's natural sign.

    ``*_test_score`` columns are renamed ``*_test_<metric>`` (e.g. ``mean_test_rmse``) and,
    for metrics where lower is better, made positive like the provider's other metrics.
    """
    import pandas as pd

    scorer = METRICS[metric].scorer
    nested = "param_" + estimator_prefix(search_cv.estimator)
    columns: dict[str, list[Any]] = {}
    for key, values in search_cv.cv_results_.items():
        key = key.replace(nested, "param_", 1) if key.startswith(nested) else key
        try:
            cells = [_json_scalar(v) for v in values]
        except TypeError:
            continue  # e.g. "params" (dicts) or estimator objects as parameter values
        if key.endswith("_test_score") and not key.startswith(("rank_", "std_")):
            cells = [None if c is None else natural(c, scorer) for c in cells]
        if key.endswith("_test_score"):
            key = key.removesuffix("_score") + f"_{metric}"
        columns[key] = cells
    return pd.DataFrame(columns)


def log_search(search_cv: Any, search: dict[str, Any], metric: str) -> dict[str, Any]:
    """Log best params (``best.<name>``), the best CV score and the cv_results_ table.

    Returns ``{"best_params", "best_cv_score", "scoring", "candidates"}`` for the result.
    """
    import mlflow

    scorer = METRICS[metric].scorer
    best_score = natural(float(search_cv.best_score_), scorer)
    prefix = estimator_prefix(search_cv.estimator)
    best_params = {k.removeprefix(prefix): _loggable(v) for k, v in search_cv.best_params_.items()}
    candidates = len(search_cv.cv_results_["params"])
    mlflow.log_params(
        {
            "search.method": search.get("method"),
            "search.cv": search_cv.cv,
            "search.scoring": metric,
            "search.candidates": candidates,
            **({"search.n_iter": search_cv.n_iter} if hasattr(search_cv, "n_iter") else {}),
            **{f"{BEST_PARAM_PREFIX}{k}": v for k, v in best_params.items()},
        }
    )
    mlflow.log_metric(f"search.best_cv_{metric}", best_score)
    mlflow.log_dict(search.get("params") or {}, "search/space.json")
    table = cv_results_table(search_cv, metric)
    mlflow.log_text(table.to_csv(index=False), CV_RESULTS_ARTIFACT)
    print(
        f"search ({search.get('method')}, {candidates} candidates, cv={search_cv.cv}): "
        f"best {metric} {best_score:.6g} with {best_params}"
    )
    return {
        "best_params": best_params,
        "best_cv_score": best_score,
        "scoring": metric,
        "candidates": candidates,
    }


def _loggable(value: Any) -> Any:
    try:
        return _json_scalar(value)
    except TypeError:
        return repr(value)
