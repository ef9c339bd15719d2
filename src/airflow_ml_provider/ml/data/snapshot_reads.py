"""Read the rows of a snapshot a step needs, split the way every step splits it.

``load_split`` reads the columns a job uses; when a step needs only some rows — the held-out
rows (evaluation, assembly) or a bounded sample of the training rows (the fallback model) —
it reads the target column, takes the split's positions from it (``split_positions``) and
streams the parquet file batch by batch, keeping only those rows: the same DataSplit, without
the whole table in memory.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from airflow_ml_provider.core.training_job import JobData
from airflow_ml_provider.ml.data.dataset import (
    DataSplit,
    input_columns,
    local_path_or_uri,
    read_frame,
    split_frame,
    split_positions,
)

BATCH_ROWS = 128 * 1024
"""Rows decoded at a time while the wanted rows are picked out."""


def load_split(
    data: JobData | Mapping[str, Any],
    task: str,
    keep: tuple[str, ...] = (),
    *,
    with_train: bool = True,
    max_train_rows: int | None = None,
) -> DataSplit:
    """Read and split a snapshot described by a job's ``data`` section (only the columns
    it uses when its ``features`` lists them); see ``split_frame`` for the options."""
    if not isinstance(data, JobData):
        data = JobData.model_validate(data)
    if data.format == "parquet" and (not with_train or max_train_rows is not None):
        return _streamed_split(data, task, keep, with_train, max_train_rows)
    columns = None
    if data.features:
        extra = [data.target, *([data.partition_by] if data.partition_by else [])]
        columns = [*data.features, *extra, *keep]
    frame = read_frame(data.uri, data.format, columns)
    split = data.split
    return split_frame(
        frame,
        target=data.target,
        features=data.features,
        test_size=split.test_size,
        seed=split.seed,
        stratify=split.stratify,
        task=task,
        partition_by=data.partition_by,
        keep=keep,
        with_train=with_train,
        max_train_rows=max_train_rows,
        validation_size=split.validation_size,
    )


def _streamed_split(
    data: JobData,
    task: str,
    keep: tuple[str, ...],
    with_train: bool,
    max_train_rows: int | None,
) -> DataSplit:
    """``split_frame``'s DataSplit, reading the target column whole and of the other
    columns only the rows the split keeps."""
    import numpy as np

    location = local_path_or_uri(data.uri)
    with opened_parquet(location) as source:
        names = source.schema_arrow.names
        columns = input_columns(names, data.target, data.features, data.partition_by)
        missing = [c for c in keep if c not in names]
        if missing:
            raise ValueError(f"columns not in the data: {', '.join(missing)}")
        y = source.read(columns=[data.target]).to_pandas()[data.target]
        split = data.split
        train, test, validation = split_positions(
            y,
            test_size=split.test_size,
            seed=split.seed,
            stratify=split.stratify,
            task=task,
            max_train_rows=max_train_rows,
            validation_size=split.validation_size,
        )
        # One read, in the order the parts follow each other: held-out, train, validation.
        parts = [test, *([train] if with_train else [])]
        if with_train and validation is not None:
            parts.append(validation)
        rows = read_rows(source, list(dict.fromkeys([*columns, *keep])), np.concatenate(parts))
    x = rows[columns]
    ends = np.cumsum([len(part) for part in parts]).tolist()
    return DataSplit(
        x.iloc[ends[0] : ends[1]] if with_train else None,
        x.iloc[: ends[0]],
        y.iloc[train],
        y.iloc[test],
        rows[list(keep)].iloc[: ends[0]] if keep else None,
        test,
        train,
        x_validation=x.iloc[ends[1] :] if with_train and validation is not None else None,
        y_validation=None if validation is None else y.iloc[validation],
    )


def read_rows(source: Any, columns: list[str], positions: Any) -> Any:
    """The rows at ``positions`` of a ``pyarrow.parquet.ParquetFile``, in that order, as a
    DataFrame indexed by them, decoding ``BATCH_ROWS`` rows at a time."""
    import numpy as np
    import pandas as pd
    import pyarrow as pa

    # The parts of a split are disjoint: each position once. Read in file order, then put
    # each row at its place (its rank among the sorted positions).
    order = np.argsort(positions, kind="stable")
    wanted = positions[order]
    place = np.empty_like(order)
    place[order] = np.arange(len(order))
    parts, start = [], 0
    for batch in source.iter_batches(batch_size=BATCH_ROWS, columns=columns):
        stop = start + batch.num_rows
        low, high = np.asarray(np.searchsorted(wanted, np.array([start, stop]))).tolist()
        if high > low:
            parts.append(pa.Table.from_batches([batch]).take(pa.array(wanted[low:high] - start)))
        start = stop
    schema = source.schema_arrow
    table = pa.concat_tables(parts) if parts else schema.empty_table().select(columns)
    # One reorder in Arrow (the positions' order) before pandas: cheaper than a pandas take.
    table = table.take(pa.array(place))
    frame = table.to_pandas(self_destruct=True, split_blocks=True)
    frame.index = pd.Index(positions)
    return frame


@contextmanager
def opened_parquet(location: str) -> Iterator[Any]:
    """A parquet snapshot (a local path or an fsspec URI) opened for batch reads, without
    pyarrow's pre-buffering (it keeps every row group it read)."""
    import pyarrow.parquet as pq

    if "://" not in location:
        yield pq.ParquetFile(location, pre_buffer=False)
        return
    import fsspec

    with fsspec.open(location, "rb") as stream:
        yield pq.ParquetFile(stream, pre_buffer=False)
