"""Read a dataset snapshot and split it the same way for training and evaluation."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, BinaryIO
from urllib.parse import unquote, urlparse


def data_section(
    snapshot: Mapping[str, Any],
    target: str,
    features: list[str] | None,
    split: dict[str, Any],
    partition_by: str | None = None,
) -> dict[str, Any]:
    """The ``data`` part of a job: which snapshot, which columns, which split."""
    return {
        "uri": snapshot["uri"],
        "format": snapshot["format"],
        "sha256": snapshot.get("sha256", ""),
        "target": target,
        "features": features,
        "split": split,
        "partition_by": partition_by,
    }


@dataclass(frozen=True)
class DataSplit:
    """Features and target of the train and held-out parts."""

    x_train: Any
    x_test: Any
    y_train: Any
    y_test: Any
    kept_test: Any = None
    """Extra columns of the held-out rows (e.g. slice columns that are not features)."""
    test_positions: Any = None
    """The held-out rows' positions in the data, in held-out order."""
    train_positions: Any = None
    """The training rows' positions in the data, in training order."""
    x_validation: Any = None
    """With a validation share: features of the rows taken from the training rows for early
    stopping (a training entrypoint's); None otherwise."""
    y_validation: Any = None

    @property
    def rows_train(self) -> int:
        return len(self.train_positions if self.x_train is None else self.x_train)

    @property
    def rows_validation(self) -> int:
        return 0 if self.y_validation is None else len(self.y_validation)


def local_path_or_uri(uri: str) -> str:
    """A file:// URI becomes a plain path; other URIs go to pandas/fsspec unchanged."""
    parsed = urlparse(uri)
    return unquote(parsed.path) if parsed.scheme in ("", "file") else uri


def write_bytes(uri: str, data: bytes) -> None:
    """Write ``data`` to ``uri`` (a path or any fsspec URI), its folder made first."""
    import fsspec

    fs, path = fsspec.core.url_to_fs(uri)
    fs.makedirs(path.rsplit("/", 1)[0], exist_ok=True)
    fs.pipe_file(path, data)


def read_frame(uri: str | BinaryIO, data_format: str, columns: list[str] | None = None):
    """Load a csv or parquet snapshot (a URI, a path or an open binary stream) into pandas.

    ``columns``: read only those of them the file has (a local parquet file or a csv; other
    sources are read whole), so a step that needs a few columns of a wide table does not
    decode and hold the rest; a missing one is left for the caller to name."""
    import pandas as pd

    wanted = None if columns is None else set(columns)
    location = local_path_or_uri(uri) if isinstance(uri, str) else uri
    if data_format == "parquet" and not (isinstance(location, str) and "://" in location):
        import pyarrow.parquet as pq

        names = None
        if wanted is not None:
            names = [name for name in pq.read_schema(location).names if name in wanted]
        # self_destruct frees each Arrow column once converted: peak memory stays near one
        # copy of the data instead of two (pyarrow's documented way to limit it).
        table = pq.read_table(location, columns=names)
        return table.to_pandas(self_destruct=True, split_blocks=True)
    if data_format == "parquet":
        return pd.read_parquet(location)
    return pd.read_csv(location, usecols=None if wanted is None else lambda c: c in wanted)


def input_columns(
    columns: list[str], target: str, features: list[str] | None, partition_by: str | None = None
) -> list[str]:
    """The model's input columns: the features (all but the target when not listed), plus
    the partition column a partitioned model routes on. Missing ones are named."""
    if target not in columns:
        raise ValueError(f"the target column {target!r} is not in the data")
    wanted = list(features or [c for c in columns if c != target])
    if partition_by is not None:
        if partition_by not in columns:
            raise ValueError(f"the partition column {partition_by!r} is not in the data")
        if partition_by not in wanted:
            wanted.append(partition_by)
    missing = [c for c in wanted if c not in columns]
    if missing:
        raise ValueError(f"feature columns not in the data: {', '.join(missing)}")
    return wanted


def split_indices(y, *, test_size: float, seed: int, stratify: bool, task: str):
    """Row positions of the train and held-out parts, from the target column alone.

    train_test_split shuffles positions, not values, so splitting ``range(len(y))`` gives
    exactly the rows splitting the frame would: the partition planner can split without
    holding every column in pandas.
    """
    import numpy as np
    from sklearn.model_selection import train_test_split

    strata = _class_codes(y) if (stratify and task == "classification") else None
    return train_test_split(
        np.arange(len(y)), test_size=test_size, random_state=seed, stratify=strata
    )


def _class_codes(y: Any) -> Any:
    """Text labels as small whole numbers in the labels' sorted order, anything else as it
    is: the stratified split sorts and compares the labels, and on 20 M Python strings that
    takes 24 s where codes take 8 s (benchmarks/split_labels.py). Codes in sorted order are
    the classes' own order, so the rows drawn are the same."""
    import numpy as np
    import pandas as pd

    labels = pd.Series(y)
    if labels.dtype != object and not pd.api.types.is_string_dtype(labels.dtype):
        return y
    if pd.api.types.infer_dtype(labels, skipna=False) != "string":
        return y  # mixed or missing labels: left to scikit-learn (and its error) as before
    codes, _ = pd.factorize(labels, sort=True)
    return codes.astype(np.min_scalar_type(int(codes.max(initial=0))))


def split_positions(
    y: Any,
    *,
    test_size: float,
    seed: int,
    stratify: bool,
    task: str,
    max_train_rows: int | None = None,
    validation_size: float = 0,
) -> tuple[Any, Any, Any]:
    """``(train, held-out, validation or None)`` row positions from the target column ``y``
    (a Series over all rows) alone: what ``split_frame`` takes of a frame (see its options),
    so a reader can fetch just those rows."""
    train, test = split_indices(y, test_size=test_size, seed=seed, stratify=stratify, task=task)
    if max_train_rows is not None and len(train) > max_train_rows:
        from sklearn.utils import resample

        strata = y.iloc[train] if (stratify and task == "classification") else None
        train = resample(
            train, replace=False, n_samples=max_train_rows, random_state=seed, stratify=strata
        )
    validation = None
    if validation_size:
        # Taken from the training rows only: the held-out rows stay the same rows.
        kept_rows, validation_rows = split_indices(
            y.iloc[train],
            test_size=validation_size / (1 - test_size),
            seed=seed,
            stratify=stratify,
            task=task,
        )
        train, validation = train[kept_rows], train[validation_rows]
    return train, test, validation


def split_frame(
    frame,
    *,
    target: str,
    features: list[str] | None,
    test_size: float,
    seed: int,
    stratify: bool,
    task: str,
    partition_by: str | None = None,
    keep: list[str] | tuple[str, ...] = (),
    with_train: bool = True,
    max_train_rows: int | None = None,
    validation_size: float = 0,
) -> DataSplit:
    """Deterministic train/held-out split: same data and settings give the same rows.

    ``keep`` names columns (features or not) to return for the held-out rows as well.
    ``with_train=False`` leaves ``x_train`` out (steps that only score the held-out rows
    need not copy the rest; ``y_train``, one column, stays for the baseline);
    ``max_train_rows`` keeps at most that many training rows, a sample drawn with ``seed``
    (stratified like the split); ``validation_size`` (a share of all rows) moves that many
    training rows to a validation part."""
    columns = input_columns(list(frame.columns), target, features, partition_by)
    missing = [c for c in keep if c not in frame.columns]
    if missing:
        raise ValueError(f"columns not in the data: {', '.join(missing)}")
    train, test, validation = split_positions(
        frame[target],
        test_size=test_size,
        seed=seed,
        stratify=stratify,
        task=task,
        max_train_rows=max_train_rows,
        validation_size=validation_size,
    )
    x, y = frame[columns], frame[target]
    kept = frame[list(keep)].iloc[test] if keep else None
    x_train = x.iloc[train] if with_train else None
    return DataSplit(
        x_train,
        x.iloc[test],
        y.iloc[train],
        y.iloc[test],
        kept,
        test,
        train,
        x_validation=None if validation is None or not with_train else x.iloc[validation],
        y_validation=None if validation is None else y.iloc[validation],
    )
