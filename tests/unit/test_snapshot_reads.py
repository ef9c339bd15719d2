"""load_split reads only the rows a step needs (the held-out rows; a bounded training sample)
by streaming the parquet snapshot — and gives exactly the DataSplit of splitting the whole
frame in memory: the same rows, order, index, columns and dtypes. Real tables from
scikit-learn, written with small row groups and read in small batches so rows are picked
across many of them."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.datasets import load_breast_cancer, load_diabetes

from airflow_ml_provider.ml.data import snapshot_reads
from airflow_ml_provider.ml.data.dataset import split_frame
from airflow_ml_provider.ml.data.snapshot_reads import load_split


def _snapshot(tmp_path, frame: pd.DataFrame) -> str:
    path = tmp_path / "data.parquet"
    frame.to_parquet(path, row_group_size=64, index=False)
    return path.as_uri()


def _same(streamed, whole) -> None:
    for name in ("x_train", "x_test", "y_train", "y_test", "kept_test", "x_validation"):
        a, b = getattr(streamed, name), getattr(whole, name)
        if b is None:
            assert a is None, name
        elif isinstance(b, pd.Series):
            pd.testing.assert_series_equal(a, b, check_index_type=False, obj=name)
        else:
            pd.testing.assert_frame_equal(a, b, check_index_type=False, obj=name)
    np.testing.assert_array_equal(streamed.test_positions, whole.test_positions)
    np.testing.assert_array_equal(streamed.train_positions, whole.train_positions)


@pytest.mark.parametrize(
    ("with_train", "max_train_rows", "keep", "validation_size"),
    [(False, None, ("mean radius",), 0), (True, 150, (), 0), (True, 150, (), 0.2)],
)
def test_streamed_split_equals_the_whole_frame_split(
    tmp_path, monkeypatch, with_train, max_train_rows, keep, validation_size
):
    monkeypatch.setattr(snapshot_reads, "BATCH_ROWS", 50)  # many batches of a small table
    frame = load_breast_cancer(as_frame=True).frame
    frame["site"] = np.where(frame.index % 3 == 0, "north", "south")  # a text column
    features = ["mean radius", "mean texture", "worst area", "site"]
    split = {"test_size": 0.25, "seed": 7, "stratify": True, "validation_size": validation_size}
    data = {
        "uri": _snapshot(tmp_path, frame),
        "format": "parquet",
        "target": "target",
        "features": features,
        "split": split,
    }
    streamed = load_split(
        data, "classification", keep, with_train=with_train, max_train_rows=max_train_rows
    )
    whole = split_frame(
        pd.read_parquet(tmp_path / "data.parquet"),
        target="target",
        features=features,
        task="classification",
        keep=keep,
        with_train=with_train,
        max_train_rows=max_train_rows,
        **split,
    )
    _same(streamed, whole)
    assert len(streamed.x_test) == 143


def test_a_regression_sample_without_listed_features(tmp_path, monkeypatch):
    monkeypatch.setattr(snapshot_reads, "BATCH_ROWS", 40)
    frame = load_diabetes(as_frame=True).frame
    split = {"test_size": 0.2, "seed": 0, "stratify": True}
    data = {
        "uri": _snapshot(tmp_path, frame),
        "format": "parquet",
        "target": "target",
        "features": None,
        "split": split,
    }
    streamed = load_split(data, "regression", max_train_rows=100)
    whole = split_frame(
        pd.read_parquet(tmp_path / "data.parquet"),
        target="target",
        features=None,
        task="regression",
        max_train_rows=100,
        **split,
    )
    _same(streamed, whole)
    assert len(streamed.x_train) == 100 and list(streamed.x_train.columns) == list(
        frame.columns[:-1]
    )


def test_a_missing_kept_column_is_named(tmp_path):
    frame = load_diabetes(as_frame=True).frame
    data = {
        "uri": _snapshot(tmp_path, frame),
        "format": "parquet",
        "target": "target",
        "features": None,
        "split": {"test_size": 0.2, "seed": 0, "stratify": False},
    }
    with pytest.raises(ValueError, match="columns not in the data: region"):
        load_split(data, "regression", ("region",), with_train=False)


@pytest.mark.parametrize("dtype", [object, "string[pyarrow]", "category"])
def test_text_labels_are_split_into_the_rows_scikit_learn_draws_from_the_labels_themselves(
    dtype,
):
    """palmerpenguins' species (text; three classes of unequal size): the split stratifies
    on the labels' codes in sorted order, a cheaper stand-in for the strings, and draws exactly
    the rows train_test_split draws when given the strings — as object, pyarrow strings or a
    category (passed through as it was)."""
    import palmerpenguins
    from sklearn.model_selection import train_test_split

    from airflow_ml_provider.ml.data.dataset import split_indices

    species = palmerpenguins.load_penguins()["species"].astype(dtype)
    for seed in (0, 7):
        expected = train_test_split(
            np.arange(len(species)), test_size=0.25, random_state=seed, stratify=species
        )
        got = split_indices(
            species, test_size=0.25, seed=seed, stratify=True, task="classification"
        )
        for ours, theirs in zip(got, expected, strict=True):
            np.testing.assert_array_equal(ours, theirs)
