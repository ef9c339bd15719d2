"""Held-out answers recorded where the sub-models were fitted (no Airflow imports).

Each partition's model answers its held-out rows once, in training, to score itself; those
answers are written next to the chunk's model file, so assembling the router's held-out
metrics needs neither reloading a thousand sub-models nor predicting again. The fallback
model's answers cover every held-out row; a row of a trained partition takes its own
model's answer instead — exactly what the router answers (``PartitionedModel.groups``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

PREDICT, ROW = "predict", "row"


@dataclass
class Answers:
    """Answers of fitted models for some rows: ``rows`` are snapshot positions (a chunk's
    partitions) or held-out positions (the fallback); ``proba`` columns follow ``classes``."""

    rows: Any
    predict: Any
    proba: Any | None
    classes: list[Any] | None


def gathered(answered: list[tuple[Any, Any, dict[str, Any]]]) -> Answers | None:
    """One Answers of ``(rows, classes, responses)`` items (``classes``: the answering
    model's ``classes_``); probabilities are placed into the union of the models' classes
    (zero for classes a model never saw), as the router does."""
    if not answered:
        return None
    rows = np.concatenate([np.asarray(item_rows) for item_rows, _, _ in answered])
    predict = np.concatenate([answers[PREDICT] for _, _, answers in answered])
    if not all("predict_proba" in answers for _, _, answers in answered):
        return Answers(rows, predict, None, None)
    classes = np.unique(np.concatenate([known for _, known, _ in answered]))
    proba = np.zeros((len(rows), len(classes)))
    start = 0
    for item_rows, known, answers in answered:
        stop = start + len(item_rows)
        proba[start:stop, np.searchsorted(classes, known)] = answers["predict_proba"]
        start = stop
    return Answers(rows, predict, proba, classes.tolist())


def answers_uri(models_uri: str) -> str:
    return models_uri.rsplit(".", 1)[0] + ".answers.parquet"


def _as_columns(predict, proba) -> dict[str, Any]:
    """The parquet layout of answers: ``predict`` and one ``proba_<i>`` column per class."""
    columns: dict[str, Any] = {PREDICT: predict}
    if proba is not None:
        columns.update({f"proba_{i}": proba[:, i] for i in range(proba.shape[1])})
    return columns


def _from_columns(frame) -> tuple[Any, Any | None]:
    """``(predict, proba or None)`` of a frame in ``_as_columns``' layout."""
    probabilities = [c for c in frame.columns if c.startswith("proba_")]
    proba = frame[probabilities].to_numpy() if probabilities else None
    return frame[PREDICT].to_numpy(), proba


def write_answers(answers: Answers, models_uri: str) -> str:
    """Write ``answers`` beside the models file; return their URI (the chunk result's
    ``answers_uri``)."""
    import fsspec
    import pandas as pd

    columns = {ROW: answers.rows, **_as_columns(answers.predict, answers.proba)}
    uri = answers_uri(models_uri)
    with fsspec.open(uri, "wb") as stream:
        pd.DataFrame(columns).to_parquet(stream, index=False)
    return uri


def _read(result: dict[str, Any]) -> Answers:
    from airflow_ml_provider.ml.data.dataset import read_frame

    frame = read_frame(result["answers_uri"], "parquet")
    return Answers(frame[ROW].to_numpy(), *_from_columns(frame), result.get("classes"))


def router_answers(
    fallback: dict[str, Any], chunks: list[dict[str, Any]], heldout_positions
) -> tuple[dict[str, Any], Any] | None:
    """``(responses, classes)`` of the router for the held-out rows (in held-out order) from
    the recorded answers: the fallback's for every row, each trained partition's own for
    its rows. None when a result recorded none (a chunk trained by an older release):
    the caller then scores the loaded router."""
    if not fallback.get("answers_uri") or any(
        chunk.get("models_uri") and not chunk.get("answers_uri") for chunk in chunks
    ):
        return None
    base = _read(fallback)
    parts = [_read(chunk) for chunk in chunks if chunk.get("answers_uri")]
    order = np.full(int(np.max(heldout_positions, initial=-1)) + 1, -1)
    order[heldout_positions] = np.arange(len(heldout_positions))
    predict = base.predict[np.argsort(base.rows)]
    classify = base.proba is not None and all(part.proba is not None for part in parts)
    classes = None
    if classify:
        seen = [np.asarray(base.classes), *(np.asarray(part.classes) for part in parts)]
        classes = np.unique(np.concatenate(seen))
        proba = np.zeros((len(predict), len(classes)))
        proba[np.ix_(base.rows, np.searchsorted(classes, base.classes))] = base.proba
    for part in parts:
        where = order[part.rows]
        if len(where) and where.min() < 0:
            return None  # rows that are not held out: a plan of other data
        if predict.dtype != part.predict.dtype:
            predict = predict.astype(np.result_type(predict.dtype, part.predict.dtype))
        predict[where] = part.predict
        if classify:
            proba[where] = 0.0
            proba[np.ix_(where, np.searchsorted(classes, part.classes))] = part.proba
    responses = {PREDICT: predict, **({"predict_proba": proba} if classify else {})}
    return responses, classes


ARTIFACT = "heldout/answers.parquet"


def log_answers(responses: dict[str, Any], classes, data: dict[str, Any]) -> dict[str, Any]:
    """Log the model's held-out answers on the active MLflow run; return the training
    result's ``heldout_answers`` entry: where they are, the classes, and which rows they
    answer (the snapshot's hash and split), so the gate reuses them only for those rows."""
    import tempfile
    from pathlib import Path

    import mlflow
    import pandas as pd

    columns = _as_columns(responses[PREDICT], responses.get("predict_proba"))
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / ARTIFACT.rsplit("/", 1)[1]
        pd.DataFrame(columns).to_parquet(path, index=False)
        mlflow.log_artifact(str(path), ARTIFACT.rsplit("/", 1)[0])
    return {
        "artifact": ARTIFACT,
        "classes": None if classes is None else np.asarray(classes).tolist(),
        "rows": len(responses[PREDICT]),
        "sha256": data.get("sha256") or "",
        "target": data["target"],
        "split": data["split"],
    }


def same_split(one: Mapping[str, Any], other: Mapping[str, Any]) -> bool:
    """Whether two split settings hold out the same rows (a validation share of 0, written
    or not, is no validation set)."""
    return {"validation_size": 0, **one} == {"validation_size": 0, **other}


def recorded_answers(client, training: Mapping[str, Any], data: dict[str, Any]):
    """``(responses, classes)`` the training run recorded for the held-out rows of ``data``
    (the same snapshot hash, target and split), else None."""
    from airflow_ml_provider.ml.data.dataset import read_frame

    entry = training.get("heldout_answers")
    if (
        not entry
        or not entry.get("sha256")
        or entry["sha256"] != data.get("sha256")
        or entry.get("target") != data["target"]
        or not same_split(entry["split"], data["split"])
    ):
        return None
    import tempfile

    with tempfile.TemporaryDirectory() as folder:
        path = client.download_artifacts(training["run_id"], entry["artifact"], folder)
        frame = read_frame(path, "parquet")
    predict, proba = _from_columns(frame)
    responses = {PREDICT: predict, **({"predict_proba": proba} if proba is not None else {})}
    classes = None if entry.get("classes") is None else np.asarray(entry["classes"])
    return responses, classes
