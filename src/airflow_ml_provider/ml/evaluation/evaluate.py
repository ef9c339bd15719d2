"""Score challenger and champion on the same held-out rows (no Airflow imports)."""

from __future__ import annotations

from typing import Any

from airflow_ml_provider.ml.data.snapshot_reads import load_split
from airflow_ml_provider.ml.evaluation.explain import shap_importances
from airflow_ml_provider.ml.evaluation.pyfunc_view import TASK_KEY
from airflow_ml_provider.ml.evaluation.scoring import (
    ResponsesByPosition,
    own_features,
    positive_class,
    score,
    score_where_defined,
)

TEAM_FLAVORS = frozenset({"lightgbm", "xgboost", "pytorch"})
"""Flavors of a training entrypoint's model; its PyTorch model is a pyfunc whose metadata
names its task (ml.evaluation.pyfunc_view.TASK_KEY), as every entrypoint model's does."""


def load_model(model_uri: str):
    """Load a registered or logged model, verified (ml.integrity.model_files), as a scikit-learn
    compatible estimator: the sklearn flavor as is, a training entrypoint's LightGBM,
    XGBoost or PyTorch model through pyfunc (ml.evaluation.pyfunc_view), a partitioned model (pyfunc
    router) as its PartitionedModel."""
    import mlflow

    from airflow_ml_provider.ml.integrity.model_files import verified_copy

    with verified_copy(model_uri) as local:
        info = mlflow.models.get_model_info(local)
        flavors = info.flavors
        if "sklearn" in flavors:
            return mlflow.sklearn.load_model(local)
        if TEAM_FLAVORS & set(flavors) or TASK_KEY in (info.metadata or {}):
            from airflow_ml_provider.ml.evaluation.pyfunc_view import PyfuncView

            return PyfuncView.load(local)
        return mlflow.pyfunc.load_model(local).unwrap_python_model().router


def heldout_rows_csv(split) -> str:
    """Which rows the gate scored, so anyone can rebuild its numbers, as CSV: each held-out
    row's position in the snapshot (0-based, in held-out order) and a hash of its values
    (features and label, pandas' hash_pandas_object, as 16 hex digits) that proves it is the
    same row."""
    import io

    import numpy as np
    import pandas as pd
    import pyarrow as pa
    import pyarrow.csv

    rows = split.x_test.assign(**{"__label__": split.y_test.to_numpy()})
    hashes = pd.util.hash_pandas_object(rows, index=False).to_numpy()
    # Big-endian bytes as hex, cut every 16 digits: one pass instead of a string per row
    # (millions of held-out rows at 10,000 partitions).
    digits = np.frombuffer(hashes.astype(">u8").tobytes().hex().encode(), dtype="S16")
    table = pa.table({"position": np.asarray(split.test_positions), "row_hash": digits.astype(str)})
    sink = io.BytesIO()
    pyarrow.csv.write_csv(table, sink, pyarrow.csv.WriteOptions(quoting_style="none"))
    return sink.getvalue().decode()


def baseline_model(task: str, primary_metric: str, y_train):
    """The trivial model every challenger must beat, fitted on the training rows' labels
    alone: the class prior (classification) or the mean — the median when the primary metric
    is an absolute error — of the target (regression)."""
    import numpy as np
    from sklearn.dummy import DummyClassifier, DummyRegressor

    no_features = np.zeros((len(y_train), 1))
    if task == "classification":
        return DummyClassifier(strategy="prior").fit(no_features, y_train)
    strategy = "median" if primary_metric in ("mae", "median_absolute_error") else "mean"
    return DummyRegressor(strategy=strategy).fit(no_features, y_train)


def group_scores(
    answers, keys, labels, metric: str, weights=None, positive: Any = None
) -> dict[str, dict[str, Any]]:
    """``{group: {rows, value}}``: one metric per value of ``keys`` (an array aligned with
    the rows ``answers`` were computed on; value None where the metric is undefined), a
    binary metric of one class counting ``positive``."""
    import pandas as pd

    from airflow_ml_provider.ml.partitioned import partition_key, positions_by_code

    codes, values = pd.factorize(keys, use_na_sentinel=False)
    scores = {}
    for code, positions in positions_by_code(codes).items():
        key = partition_key(values[code])
        weight = None if weights is None else weights[positions]
        value = score_where_defined(
            answers, positions, labels[positions], [metric], weight, positive
        )
        scores[key] = {"rows": len(positions), "value": value[metric]}
    return scores


def partition_scores(model, x, y, metric: str, partition_by: str) -> dict[str, dict[str, Any]]:
    """One metric per partition of the held-out rows. The model predicts all rows once;
    each partition is scored on its slice of those answers."""
    answers = ResponsesByPosition(model, own_features(model, x))
    return group_scores(answers, x[partition_by].to_numpy(), y.to_numpy(), metric)


def bootstrap_improvement(
    challenger,
    champion,
    labels,
    metric: str,
    *,
    samples: int,
    confidence: float,
    seed: int,
    weights=None,
    positive: Any = None,
) -> dict[str, float]:
    """Paired bootstrap of the primary metric's improvement (in its better direction).

    Both models are scored on the same resampled held-out rows each time; ``lower`` is the
    one-sided lower bound at ``confidence``. Resamples where the metric is undefined (one
    class drawn) are left out and counted.
    """
    import numpy as np

    from airflow_ml_provider.core.metrics import METRICS

    sign = 1.0 if METRICS[metric].higher_is_better else -1.0
    rng = np.random.default_rng(seed)
    rows = len(labels)
    differences = []
    for _ in range(samples):
        drawn = rng.integers(0, rows, rows)
        weight = None if weights is None else weights[drawn]
        mine, theirs = (
            score_where_defined(model, drawn, labels[drawn], [metric], weight, positive)[metric]
            for model in (challenger, champion)
        )
        if mine is not None and theirs is not None:
            differences.append(sign * (mine - theirs))
    if not differences:
        raise ValueError(f"{metric} is undefined on every bootstrap resample")
    values = np.asarray(differences)
    return {
        "lower": float(np.quantile(values, 1 - confidence)),
        "mean": float(values.mean()),
        "confidence": confidence,
        "samples": len(values),
        "undefined": samples - len(values),
    }


def permutation_importances(
    model, x, y, metric: str, seed: int, positive: Any = None
) -> list[dict[str, Any]]:
    """scikit-learn's permutation importance of each input column for ``metric`` (a binary
    metric of one class counting ``positive``), largest first (at most 5,000 held-out rows
    per repeat, 3 repeats)."""
    from sklearn.inspection import permutation_importance

    from airflow_ml_provider.ml.evaluation.scoring import cv_scorer

    rows = own_features(model, x)
    result = permutation_importance(
        model,
        rows,
        y,
        scoring=cv_scorer(metric, positive),
        n_repeats=3,
        random_state=seed,
        max_samples=min(1.0, 5000 / max(len(rows), 1)),
    )
    table = [
        {"feature": str(name), "importance": float(mean), "std": float(std)}
        for name, mean, std in zip(
            rows.columns, result.importances_mean, result.importances_std, strict=True
        )
    ]
    return sorted(table, key=lambda row: -row["importance"])


def score_models(
    data: dict[str, Any],
    task: str,
    metrics: list[str],
    challenger_uri: str,
    champion_uri: str | None,
    *,
    confidence: float | None = None,
    bootstrap_samples: int = 1000,
    slices: list[str] | tuple[str, ...] = (),
    importance: bool = True,
    sample_weight: str | None = None,
    challenger_answers: tuple[dict[str, Any], Any] | None = None,
    baseline: bool = False,
    positive_class_setting: Any = None,
    plots: bool = False,
) -> dict[str, Any]:
    """Everything the gate needs, computed on one held-out split (the first metric is the
    primary one): ``challenger`` / ``champion`` metrics (champion None when there is none),
    ``rows``; with ``data["partition_by"]`` the primary metric per partition of both models
    (``partitions``); per group of each ``slices`` column (``slices``); with a champion and
    ``confidence`` the paired-bootstrap improvement (``bootstrap``); the challenger's
    permutation importances (``importance``) and, when shap is installed, mean absolute SHAP
    values (``shap``). With ``sample_weight`` (a column of the data)
    every metric counts each held-out row by its weight. ``challenger_answers``:
    ``(responses, classes)`` the challenger gave these rows in training
    (``heldout_answers.recorded_answers``); used when they answer as many rows as the split
    holds out, and then the challenger is loaded only for importance. With ``baseline`` the
    metrics of ``baseline_model`` fitted on the training rows' labels (``baseline``).
    Binary metrics of one class count ``positive_class_setting`` (the configured class, or else the
    training rows' minority class) as positive; the result names it (``positive_class``).
    With ``plots`` the evaluation pictures of both models (``figures``, see
    ``ml.evaluation.plots``).
    """
    keep = tuple(dict.fromkeys([*slices, *([sample_weight] if sample_weight else [])]))
    split = load_split(data, task, keep=keep, with_train=False)
    primary, seed = metrics[0], int(data["split"]["seed"])
    labels = split.y_test.to_numpy()
    weights = split.kept_test[sample_weight].to_numpy() if sample_weight else None
    positive = (
        positive_class(split.y_train, positive_class_setting) if task == "classification" else None
    )
    recorded = challenger_answers
    if recorded is not None and len(recorded[0]["predict"]) != len(split.x_test):
        recorded = None
    challenger_model = load_model(challenger_uri) if recorded is None or importance else None
    champion_model = load_model(champion_uri) if champion_uri is not None else None
    models = {"challenger": challenger_model, "champion": champion_model}
    # Each model answers the held-out rows once; every metric, group and resample is
    # scored from those answers.
    answers = {
        name: ResponsesByPosition(model, own_features(model, split.x_test))
        for name, model in models.items()
        if model is not None and not (name == "challenger" and recorded is not None)
    }
    if recorded is not None:
        answers["challenger"] = ResponsesByPosition.recorded(*recorded)
    result: dict[str, Any] = {
        name: score(answers[name], answers[name].all_rows(), labels, metrics, weights, positive)
        if name in answers
        else None
        for name in models
    }
    result["rows"] = len(split.x_test)
    result["positive_class"] = positive
    if plots:
        from airflow_ml_provider.ml.evaluation.plots import evaluation_figures

        given = {name: answers[name].answers for name in models if name in answers}
        classes = getattr(answers["challenger"], "classes_", None)
        result["figures"] = evaluation_figures(task, labels, given, classes, positive)
    result["heldout_rows"] = heldout_rows_csv(split)
    if baseline:
        trivial = baseline_model(task, primary, split.y_train)
        guesses = ResponsesByPosition(trivial, split.x_test)
        result["baseline"] = score(guesses, guesses.all_rows(), labels, metrics, weights, positive)
        result["baseline_model"] = repr(trivial)

    def per_group(keys) -> dict[str, Any]:
        return {
            name: group_scores(answers[name], keys, labels, primary, weights, positive)
            if name in answers
            else None
            for name in models
        }

    if data.get("partition_by"):
        result["partitions"] = per_group(split.x_test[data["partition_by"]].to_numpy())
    if slices:
        result["slices"] = {
            column: per_group(split.kept_test[column].to_numpy()) for column in slices
        }
    if confidence and champion_model is not None:
        result["bootstrap"] = bootstrap_improvement(
            answers["challenger"],
            answers["champion"],
            labels,
            primary,
            samples=bootstrap_samples,
            confidence=confidence,
            seed=seed,
            weights=weights,
            positive=positive,
        )
    if importance:
        result["importance"] = permutation_importances(
            challenger_model, split.x_test, split.y_test, primary, seed, positive
        )
        shap_table = shap_importances(challenger_model, split.x_test, seed)
        if shap_table is not None:
            result["shap"] = shap_table
    return result
