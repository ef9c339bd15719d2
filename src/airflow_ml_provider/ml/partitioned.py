"""One model made of many: each row is predicted by its partition's sub-model.

``PartitionedModel`` is a scikit-learn compatible estimator (``predict``, ``predict_proba``,
``classes_``), so scikit-learn's scorers, the gate and the pyfunc wrapper
(``ml/router_model.py``) all use it the way they use any fitted estimator. Rows whose
partition has no sub-model (unseen, skipped or failed in training) go to the fallback model.
No Airflow imports: this runs in the training process, the pod and in serving.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Mapping
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
    ``features`` columns as a DataFrame (each carries its own preprocessing): a dict, or
    ``SubModels`` parsing them from their files on demand.
    Classification sub-models may have seen only some of the classes: their probabilities
    are placed into the columns of ``classes_`` (the union) with zeros elsewhere.
    """

    def __init__(
        self,
        partition_by: str,
        features: list[str],
        models: Mapping[str, Any],
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


PARTITION_INDEX = "partition_index"
"""The router's artifact (JSON, ``{model file's artifact name: [partition keys]}``) that says
which file holds each sub-model, so a file is loaded only when its partitions are asked for."""


class ModelFileMismatch(AirflowMlError, ValueError):
    """A model file does not hold a partition the router's index says it does."""


class SubModels(Mapping[str, Any]):
    """Partition key -> fitted sub-model, each model file parsed on demand: the first time
    one of its partitions is asked for, the whole file is (skops loading only ``trusted``
    types). Predicting a few rows — the input example MLflow checks when the model is logged,
    the deploy smoke test, a model server's first requests — parses only the files of their
    partitions instead of every sub-model. The files' bytes are read when the router is
    loaded (from the verified copy, which may be gone by the time a partition is asked for)."""

    def __init__(self, index: dict[str, list[str]], blobs: dict[str, bytes], trusted: list[str]):
        self._file_of = {key: name for name, keys in index.items() for key in keys}
        self._blobs = blobs
        self._trusted = trusted
        self._models: dict[str, Any] = {}
        self._lock = threading.Lock()  # a model server may ask from several threads

    def __getitem__(self, key: str) -> Any:
        name = self._file_of[key]  # KeyError: no sub-model (Mapping.get gives None)
        if name in self._blobs:
            with self._lock:
                if name in self._blobs:
                    self._parse(name)
        if key not in self._models:
            raise ModelFileMismatch(
                f"model file {name!r} does not hold partition {key!r}, "
                f"which the router's {PARTITION_INDEX} puts there"
            )
        return self._models[key]

    def _parse(self, name: str) -> None:
        from airflow_ml_provider.ml.integrity.skops_io import skops_io

        self._models.update(skops_io().loads(self._blobs[name], trusted=self._trusted))
        del self._blobs[name]  # the parsed models replace the file's bytes

    def __iter__(self) -> Iterator[str]:
        return iter(self._file_of)

    def __len__(self) -> int:
        return len(self._file_of)

    def __getstate__(self) -> dict[str, Any]:
        return {k: v for k, v in self.__dict__.items() if k != "_lock"}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state, _lock=threading.Lock())


def load_partitioned_model(config: dict[str, Any], files: dict[str, str]) -> PartitionedModel:
    """Rebuild the router from its config and the local paths of its artifacts.

    ``config`` holds ``partition_by``, ``features``, ``task`` and ``trusted_types``; each
    model file is a skops dump of ``{partition key: estimator}`` (``fallback``: the fallback
    model's). skops loads only the types recorded when the sub-models were fitted by this
    package. With a ``PARTITION_INDEX`` artifact the sub-models are parsed on demand
    (``SubModels``); routers logged before it existed load every file at once.
    """
    import json
    from pathlib import Path

    from airflow_ml_provider.ml.integrity.skops_io import skops_io

    skops = skops_io()
    trusted = list(config.get("trusted_types") or [])
    files = dict(files)
    index_file = files.pop(PARTITION_INDEX, None)
    fallback_file = files.pop("fallback", None)
    fallback = skops.load(fallback_file, trusted=trusted)["fallback"] if fallback_file else None
    models: Mapping[str, Any]
    if index_file is not None:
        with open(index_file, encoding="utf-8") as stream:
            index = json.load(stream)
        blobs = {name: Path(path).read_bytes() for name, path in files.items()}
        models = SubModels(index, blobs, trusted)
    else:
        models = {}
        for path in files.values():
            models.update(skops.load(path, trusted=trusted))
    return PartitionedModel(
        partition_by=config["partition_by"],
        features=list(config["features"]),
        models=models,
        fallback=fallback,
        task=config.get("task", "classification"),
    )
