"""Plan the partitions of a snapshot and cut the trainable ones into chunk files.

``plan_chunks`` needs only the partition and target columns: it splits the rows once (the
same train/held-out rows as every other step), decides which partitions are trainable and
groups them into chunks of ``partitions_per_task``, and says for every snapshot row which
chunk it goes to (``ChunkRows``). ``write_chunk_files`` then streams the snapshot's parquet
file batch by batch into one parquet file per chunk, so the whole table is never held in
memory; ``chunk_frames`` cuts an in-memory frame the same way. No Airflow imports.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from typing import IO, Any

import numpy as np
import pandas as pd

from airflow_ml_provider.ml.partitioned import partition_key, positions_by_code
from airflow_ml_provider.ml.partitions.chunks import HELDOUT, ROW, SKIPPED

BATCH_ROWS = 128 * 1024
"""Snapshot rows read at a time while chunk files are written."""
OPEN_WRITERS = 64
"""Chunk files written in one pass over the snapshot (more chunks: more passes)."""
FLUSH_ROWS = 16 * 1024
"""Rows a chunk buffers before they become one row group of its file."""


@dataclass(frozen=True)
class ChunkRows:
    """Where each snapshot row goes: its chunk (-1: none, its partition is skipped) and
    whether it is held out; ``columns``, what a chunk file keeps of each row."""

    chunk: np.ndarray
    heldout: np.ndarray
    columns: list[str]
    chunks: int


def plan_chunks(
    keys: pd.DataFrame,
    columns: list[str],
    *,
    target: str,
    features: list[str] | None,
    partition_by: str,
    split: dict[str, Any],
    task: str,
    min_partition_rows: int,
    partitions_per_task: int,
) -> tuple[dict[str, Any], ChunkRows]:
    """The plan (partitions, skipped ones with their reason, chunks of partition keys, row
    counts) and where each row goes, from ``keys`` — the snapshot's partition and target
    columns only — and the names of all its ``columns``."""
    from airflow_ml_provider.ml.data.dataset import input_columns, split_indices

    model_columns = input_columns(columns, target, features, partition_by)
    model_features = [c for c in model_columns if c != partition_by]
    y = keys[target]
    train, _ = split_indices(
        y, test_size=split["test_size"], seed=split["seed"], stratify=split["stratify"], task=task
    )
    heldout: np.ndarray = np.ones(len(keys), dtype=bool)
    heldout[train] = False
    codes, values = pd.factorize(keys[partition_by], use_na_sentinel=False)
    names = [partition_key(v) for v in values]
    train_rows = np.bincount(codes[train], minlength=len(names))
    classes = (
        pd.Series(y.to_numpy()[train]).groupby(codes[train]).nunique()
        if task == "classification"
        else None
    )
    skipped, trainable = [], []
    for code, name in sorted(enumerate(names), key=lambda item: item[1]):
        rows = int(train_rows[code])
        if rows < min_partition_rows:
            reason = f"{rows} training rows, fewer than min_partition_rows {min_partition_rows}"
        elif classes is not None and int(classes.get(code, 0)) < 2:
            reason = "one class only in its training rows"
        else:
            trainable.append(code)
            continue
        skipped.append({"partition": name, "status": SKIPPED, "reason": reason, "rows_train": rows})
    chunks = [
        trainable[start : start + partitions_per_task]
        for start in range(0, len(trainable), partitions_per_task)
    ]
    chunk_of_code: np.ndarray = np.full(len(names), -1, dtype=np.int32)
    for index, chunk in enumerate(chunks):
        chunk_of_code[chunk] = index
    plan = {
        "partition_by": partition_by,
        "features": model_features,
        "partitions": len(names),
        "trainable": len(trainable),
        "skipped": skipped,
        "chunks": [[names[code] for code in chunk] for chunk in chunks],
        "rows_train": len(train),
        "rows_test": len(keys) - len(train),
    }
    kept = [*model_features, partition_by, target]
    return plan, ChunkRows(chunk_of_code[codes], heldout, kept, len(chunks))


def plan_partitions(
    frame: pd.DataFrame, **settings: Any
) -> tuple[dict[str, Any], Iterator[tuple[int, pd.DataFrame]]]:
    """``plan_chunks`` and ``chunk_frames`` over an in-memory ``frame`` (the keyword
    arguments are plan_chunks')."""
    keys = frame[[settings["partition_by"], settings["target"]]]
    plan, rows = plan_chunks(keys, [str(c) for c in frame.columns], **settings)
    return plan, chunk_frames(frame, rows)


def chunk_frames(frame: pd.DataFrame, rows: ChunkRows) -> Iterator[tuple[int, pd.DataFrame]]:
    """Each chunk's rows of an in-memory ``frame`` (its columns, the held-out flag and the
    row's snapshot position), in snapshot order."""
    by_chunk = positions_by_code(rows.chunk)
    for index in range(rows.chunks):
        positions = by_chunk[index]
        part = frame.iloc[positions][rows.columns]
        yield index, part.assign(**{HELDOUT: rows.heldout[positions], ROW: positions})


def write_chunk_files(
    source: Any,
    rows: ChunkRows,
    open_chunk: Callable[[int], IO[bytes]],
    *,
    batch_rows: int = BATCH_ROWS,
    open_writers: int = OPEN_WRITERS,
    flush_rows: int = FLUSH_ROWS,
    progress: Callable[[int, int], None] | None = None,
) -> None:
    """Write every chunk's rows from ``source`` (a ``pyarrow.parquet.ParquetFile`` of the
    snapshot, opened with ``pre_buffer=False``: pre-buffering keeps what it read) to the
    stream ``open_chunk(index)`` gives, as parquet: ``open_writers`` chunks per pass over
    the snapshot, reading ``batch_rows`` rows at a time, each chunk's rows in snapshot order.
    Memory holds one batch and each open chunk's ``flush_rows``."""
    import pyarrow as pa

    for first in range(0, rows.chunks, open_writers):
        group = range(first, min(first + open_writers, rows.chunks))
        with _ChunkWriters(open_chunk, flush_rows) as writers:
            start = 0
            for batch in source.iter_batches(batch_size=batch_rows, columns=rows.columns):
                where = rows.chunk[start : start + batch.num_rows]
                offsets = np.flatnonzero((where >= group.start) & (where < group.stop))
                offsets = offsets[np.argsort(where[offsets], kind="stable")]
                table = pa.Table.from_batches([batch])
                cuts: np.ndarray = np.flatnonzero(np.diff(where[offsets])) + 1
                for taken in np.split(offsets, cuts) if len(offsets) else []:
                    part = table.take(pa.array(taken))
                    part = part.append_column(HELDOUT, pa.array(rows.heldout[start + taken]))
                    writers.add(
                        int(where[taken[0]]), part.append_column(ROW, pa.array(start + taken))
                    )
                start += batch.num_rows
        if progress is not None:
            progress(group.stop, rows.chunks)


class _ChunkWriters:
    """One parquet writer per chunk of a pass, each buffering ``flush_rows`` rows before
    they become a row group; closing flushes and closes them all."""

    def __init__(self, open_chunk: Callable[[int], IO[bytes]], flush_rows: int) -> None:
        self.open_chunk, self.flush_rows = open_chunk, flush_rows
        self.stack = ExitStack()
        self.writers: dict[int, Any] = {}
        self.pending: dict[int, list[Any]] = {}

    def __enter__(self) -> _ChunkWriters:
        return self

    def add(self, index: int, part: Any) -> None:
        self.pending.setdefault(index, []).append(part)
        if sum(len(p) for p in self.pending[index]) >= self.flush_rows:
            self._flush(index)

    def _flush(self, index: int) -> None:
        import pyarrow as pa
        import pyarrow.parquet as pq

        from airflow_ml_provider.core.formats import dictionary_columns

        table = pa.concat_tables(self.pending.pop(index))
        if index not in self.writers:
            stream = self.stack.enter_context(self.open_chunk(index))
            schema = table.schema
            writer = pq.ParquetWriter(stream, schema, use_dictionary=dictionary_columns(schema))
            self.writers[index] = self.stack.enter_context(writer)
        self.writers[index].write_table(table)

    def __exit__(self, *exc: object) -> None:
        with self.stack:
            if exc[0] is None:
                for index in list(self.pending):
                    self._flush(index)
