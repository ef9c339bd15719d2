"""One model made of many: each row is predicted by its partition's sub-model.

``PartitionedModel`` is a scikit-learn compatible estimator (``predict``, ``predict_proba``,
``classes_``), so scikit-learn's scorers, the gate and the pyfunc wrapper
(``ml/router_model.py``) all use it the way they use any fitted estimator. Rows whose
partition has no sub-model (unseen, skipped or failed in training) go to the fallback model.
No Airflow imports: this runs in the training process, the pod and in serving.
"""

from __future__ import annotations

from typing import Any

from sklearn.base import BaseEstimator

from airflow_ml_provider.core.errors import AirflowMlError


class UnroutableRows(AirflowMlError, ValueError):
    """Rows of partitions without a sub-model, and no fallback model to send them to."""


def partition_key(value: Any) -> str:
    """The key a partition value is stored under: its text (JSON object keys are text).

    Integral floats read back from parquet or CSV as 3.0 map to the same key as 3.
    """
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return str(value)


def positions_by_code(codes: Any) -> dict[int, Any]:
    """The row positions of each code (``pandas.factorize``'s codes of a partition column),
    each in row order: one sort instead of one scan of all rows per partition."""
    import numpy as np

    order = np.argsort(codes, kind="stable")
    if not len(order):
        return {}
    bounds: np.ndarray = np.flatnonzero(np.diff(codes[order])) + 1
    firsts = codes[order][np.r_[0, bounds]].tolist()
    return dict(zip(firsts, np.split(order, bounds), strict=True))


class PartitionedModel(BaseEstimator):
    """Routes each row to the model of its ``partition_by`` value; the fallback takes the rest.

    ``models`` maps partition keys (see ``partition_key``) to fitted models that take the
    ``features`` columns as a DataFrame (each carries its own preprocessing).
    Classification sub-models may have seen only some of the classes: their probabilities
    are placed into the columns of ``classes_`` (the union) with zeros elsewhere.
    """

    def __init__(
        self,
        partition_by: str,
        features: list[str],
        models: dict[str, Any],
        fallback: Any | None = None,
        task: str = "classification",
    ) -> None:
        self.partition_by = partition_by
        self.features = features
        self.models = models
        self.fallback = fallback
        self.task = task

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.estimator_type = "classifier" if self.task == "classification" else "regressor"
        return tags

    def __sklearn_is_fitted__(self) -> bool:
        return True

    @property
    def classes_(self):
        # Cached: with thousands of sub-models the union is worth computing once.
        if getattr(self, "_classes", None) is None:
            import numpy as np

            seen = [m.classes_ for m in self._all_models() if hasattr(m, "classes_")]
            self._classes = np.unique(np.concatenate(seen)) if seen else np.array([])
        return self._classes

    @property
    def feature_names_in_(self):
        import numpy as np

        return np.array([*self.features, self.partition_by], dtype=object)

    def _all_models(self) -> list[Any]:
        return [*self.models.values(), *([self.fallback] if self.fallback is not None else [])]

    def groups(self, rows) -> list[tuple[Any, Any]]:
        """(model, row positions) pairs covering every row exactly once."""
        import numpy as np
        import pandas as pd

        if self.partition_by not in rows.columns:
            raise ValueError(f"rows need the partition column {self.partition_by!r}")
        codes, values = pd.factorize(rows[self.partition_by], use_na_sentinel=False)
        pairs: list[tuple[Any, Any]] = []
        unrouted, unseen = [], []
        for code, positions in positions_by_code(codes).items():
            key = partition_key(values[code])
            model = self.models.get(key)
            if model is None:
                unrouted.append(positions)
                unseen.append(key)
            else:
                pairs.append((model, positions))
        if unrouted:
            if self.fallback is None:
                raise UnroutableRows(
                    f"no model for {self.partition_by} = {', '.join(sorted(unseen)[:10])} "
                    "and no fallback model"
                )
            pairs.append((self.fallback, np.concatenate(unrouted)))
        return pairs

    def predict(self, rows):
        """Each row predicted by its partition's model (the fallback for the others)."""
        return self._routed(rows, ("predict",))["predict"]

    def predict_proba(self, rows):
        """Class probabilities in the order of ``classes_``; classes a sub-model never saw
        get probability 0 for that partition's rows."""
        return self._routed(rows, ("predict_proba",))["predict_proba"]

    def responses(self, rows) -> dict[str, Any]:
        """``predict`` (and ``predict_proba`` for classification) in one pass over the
        sub-models, each preprocessing its rows once (see ``ml.responses``)."""
        classifier = self.task == "classification"
        return self._routed(rows, ("predict", "predict_proba") if classifier else ("predict",))

    def _routed(self, rows, methods: tuple[str, ...]) -> dict[str, Any]:
        import numpy as np

        from airflow_ml_provider.ml.responses import responses

        x = rows[self.features]
        answers: dict[str, Any] = {}
        classes = self.classes_ if "predict_proba" in methods else None
        if classes is not None:
            answers["predict_proba"] = np.zeros((len(rows), len(classes)))
        for model, positions in self.groups(rows):
            part = x.iloc[positions]
            if len(methods) > 1:
                given = responses(model, part)
            else:
                given = {methods[0]: np.asarray(getattr(model, methods[0])(part))}
            if "predict" in methods:
                answers["predict"] = _placed(
                    answers.get("predict"), given["predict"], positions, len(rows)
                )
            if classes is not None:
                columns = np.searchsorted(classes, model.classes_)
                answers["predict_proba"][np.ix_(positions, columns)] = given["predict_proba"]
        if "predict" in methods and "predict" not in answers:
            answers["predict"] = np.array([])
        return answers


def _placed(result, predicted, positions, size: int):
    """``predicted`` written at ``positions`` of ``result`` (created with ``size`` rows, or
    widened to a type that holds both, as partitions may predict in different dtypes)."""
    import numpy as np

    if result is None:
        result = np.empty(size, dtype=predicted.dtype)
    elif result.dtype != predicted.dtype:
        result = result.astype(np.result_type(result.dtype, predicted.dtype))
    result[positions] = predicted
    return result


def load_partitioned_model(config: dict[str, Any], files: dict[str, str]) -> PartitionedModel:
    """Rebuild the router from its config and the local paths of its model files.

    ``config`` holds ``partition_by``, ``features``, ``task``, ``trusted_types`` and
    ``bundles`` (file key -> partition keys in it, ``fallback`` for the fallback model);
    each file is a skops dump of ``{partition key: estimator}``. skops loads only the types
    recorded when the sub-models were fitted by this package.
    """
    from airflow_ml_provider.ml.integrity.skops_io import skops_io

    skops = skops_io()
    trusted = list(config.get("trusted_types") or [])
    models: dict[str, Any] = {}
    fallback = None
    for name, path in files.items():
        bundle = skops.load(path, trusted=trusted)
        if name == "fallback":
            fallback = bundle["fallback"]
        else:
            models.update(bundle)
    return PartitionedModel(
        partition_by=config["partition_by"],
        features=list(config["features"]),
        models=models,
        fallback=fallback,
        task=config.get("task", "classification"),
    )
