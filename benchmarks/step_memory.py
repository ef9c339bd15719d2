"""Peak memory of the steps that stream the snapshot (issue 35.1) against the whole-frame
reads they replaced, in the same run.

Run from the repository root:

    .venv/bin/python benchmarks/step_memory.py [--partitions 1000 10000] [--repeats 3]
        [--steps plan heldout sample validate snapshot score]

Steps: **plan** — plan_partitions (below); **heldout** — the held-out rows evaluate_model and
assemble_model score (``load_split(..., with_train=False)``); **sample** — the fallback
model's bounded training sample plus every held-out row (``max_train_rows=1,500,000``);
**score** — the fallback model's work: the bounded sample (250,000 rows, 20 features) and
every held-out row read, a median-imputer + scaler + LogisticRegression fitted, then every
held-out row answered ``ml.responses.BATCH_ROWS`` rows at a time ("stream") against one pass
over all of them ("whole frame": what it did before); **snapshot** — snapshot_data's copy
of a parquet source into the snapshot
(``DataSourceHook.write_parquet``, batch by batch) with the source opened without
pre-buffering ("stream") against pyarrow's default pre-buffering, which keeps every row group
it read ("whole frame": what the files reader did before); **validate** — every check of
validate_data (``ml.data.checks.check_frame``: guards, the partitions benchmark's
expectation on ``segment`` with Data Docs, schema, drift profile), on the snapshot read a
column at a time (``ParquetColumns``, "stream") against the same checks on the whole frame
read first (``read_frame``, what validate_data did before).
For heldout and sample, "stream" is ``load_split`` now (the target column, then only the
split's rows, batch by batch) and "whole frame" is ``split_frame`` over ``read_frame`` of
the snapshot, what ``load_split`` did before; both give the same DataSplit
(tests/unit/test_snapshot_reads.py).

For each size a snapshot of N partitions x 2,000 rows (20 float features, a text partition
column, a 0/1 label; 1 M-row row groups, as snapshot_data writes it) is generated once.
Then, alternating, each side runs in its own fresh process (so its peak RSS is its own):

* **stream** — what the plan_partitions task does now: read the partition and target
  columns, ``plan_chunks``, ``write_chunk_files`` (64 chunk files per pass over the file);
* **whole frame** — what it did before: ``pandas.read_parquet`` of the whole snapshot,
  ``plan_partitions`` in memory and one ``pyarrow.parquet.write_table`` per chunk.

Reported: wall seconds and peak RSS (``VmHWM``) of each, their ratios, and the snapshot
as a DataFrame (its pandas memory) for scale. Both write the same chunk files
(tests/unit/test_partitions.py checks the rows are identical).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
from pathlib import Path

from child import json_from_child

ROWS, FEATURES, PER_TASK = 2_000, 20, 50
SETTINGS = {
    "target": "label",
    "features": None,
    "partition_by": "segment",
    "split": {"test_size": 0.25, "seed": 0, "stratify": True},
    "task": "classification",
    "min_partition_rows": 30,
    "partitions_per_task": PER_TASK,
}

MEASURE = """
import json, sys, time
from pathlib import Path
side, snapshot, out = sys.argv[1], Path(sys.argv[2]), Path(sys.argv[3])
settings, step = json.loads(sys.argv[4]), sys.argv[5]
import numpy, pandas, pyarrow.parquet as pq
from airflow_ml_provider.core.formats import dictionary_columns
from airflow_ml_provider.ml.partitions.plan import plan_chunks, plan_partitions, write_chunk_files
from airflow_ml_provider.ml.data.dataset import read_frame, split_frame
from airflow_ml_provider.ml.data.snapshot_reads import load_split
if step == "validate":
    import great_expectations  # imported by both sides before the measure starts
    from airflow_ml_provider.ml.data.checks import CheckOptions, check_frame
    from airflow_ml_provider.ml.data.column_tables import ParquetColumns
def hwm_kib():  # VmHWM: the peak of this process (ru_maxrss is kept across exec)
    return int(next(l for l in open('/proc/self/status') if l.startswith('VmHWM:')).split()[1])
base = hwm_kib()
started = time.perf_counter()
split = {k: settings["split"][k] for k in ("test_size", "seed", "stratify")}
sample = 1_500_000 if step == "sample" else None
data = {"uri": snapshot.as_uri(), "format": "parquet", "target": "label", "features": None,
        "split": split}
plan = {"chunks": []}
if step == "score":  # the fallback's work: fit on the bounded sample, answer every held-out row
    from sklearn.impute import SimpleImputer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler
    from airflow_ml_provider.ml.responses import responses
    data["features"] = [f"f{i}" for i in range(20)]
    got = load_split(data, "classification", max_train_rows=250_000)
    model = make_pipeline(SimpleImputer(strategy="median"), StandardScaler(),
                          LogisticRegression(max_iter=200)).fit(got.x_train, got.y_train)
    batch = None if side == "stream" else len(got.x_test)  # one pass: what it did before
    answers = responses(model, got.x_test, **({"batch_rows": batch} if batch else {}))
    assert len(answers["predict_proba"]) == len(got.x_test)
elif step == "snapshot":
    from airflow_ml_provider.hooks.data import DataSourceHook
    if side == "whole frame":  # before: pyarrow's default, pre-buffering every row group read
        opened = pq.ParquetFile
        pq.ParquetFile = lambda *args, **kwargs: opened(*args, **{**kwargs, "pre_buffer": True})
    assert DataSourceHook(str(snapshot)).write_parquet(str(out / "snapshot.parquet"))["rows"]
elif step == "validate":
    options = CheckOptions(
        target="label", task="classification", keep_profile=True, docs_dir=str(out),
        expectations=[{"expect_column_values_to_not_be_null": {"column": "segment"}}])
    read = ParquetColumns if side == "stream" else lambda path: read_frame(path, "parquet")
    assert not check_frame(read(str(snapshot)), options)["guards"]
elif step != "plan" and side == "stream":
    got = load_split(data, "classification", with_train=step == "sample", max_train_rows=sample)
elif step != "plan":
    got = split_frame(read_frame(str(snapshot), "parquet"), target="label", features=None,
                      task="classification", with_train=step == "sample",
                      max_train_rows=sample, **split)
elif side == "stream":
    source = pq.ParquetFile(snapshot, pre_buffer=False)  # as the operator opens it
    keys = source.read(columns=["segment", "label"]).to_pandas(categories=["segment"])
    plan, rows = plan_chunks(keys, source.schema_arrow.names, **settings)
    write_chunk_files(source, rows, lambda i: open(out / f"chunk-{i:05d}.parquet", "wb"))
else:
    import pyarrow as pa
    frame = pandas.read_parquet(snapshot)
    plan, chunks = plan_partitions(frame, **settings)
    for index, part in chunks:
        table = pa.Table.from_pandas(part, preserve_index=False)
        pq.write_table(table, out / f"chunk-{index:05d}.parquet",
                       use_dictionary=dictionary_columns(table.schema))
seconds = time.perf_counter() - started
peak = hwm_kib()
print(json.dumps({"seconds": seconds, "peak_mib": peak / 1024, "imports_mib": base / 1024,
                  "chunks": len(plan["chunks"])}))
"""


def write_snapshot(path: Path, partitions: int) -> int:
    """The snapshot, written a million rows at a time (its size is not the generator's)."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.parquet as pq

    rng = np.random.default_rng(0)
    total = partitions * ROWS
    names = np.array([f"store-{i:05d}" for i in range(partitions)])
    writer = None
    for start in range(0, total, 1_000_000):
        size = min(1_000_000, total - start)
        x = rng.normal(size=(size, FEATURES))
        segment = names[(np.arange(start, start + size) // ROWS) % partitions]
        label = (x[:, 0] + rng.normal(scale=0.5, size=size) > 0).astype("int64")
        table = pa.table(
            {**{f"f{i}": x[:, i] for i in range(FEATURES)}, "segment": segment, "label": label}
        )
        if writer is None:
            writer = pq.ParquetWriter(path, table.schema, use_dictionary=["segment", "label"])
        writer.write_table(table, row_group_size=1_000_000)
    assert writer is not None
    writer.close()
    return total


def measure(
    step: str, partitions: int, rows: int, snapshot: Path, scratch: Path, args, env
) -> dict:
    """Both sides of ``step``, alternating, ``args.repeats`` times; wall, peak and ratios."""
    runs: dict[str, list[dict]] = {"stream": [], "whole frame": []}
    for repeat in range(args.repeats):
        for side in ("stream", "whole frame") if repeat % 2 == 0 else ("whole frame", "stream"):
            out = scratch / f"{step}-{side}-{repeat}".replace(" ", "_")
            out.mkdir()
            result = json_from_child(
                ["-c", MEASURE, side, str(snapshot), str(out), json.dumps(SETTINGS), step],
                env,
                f"{step} {side} at {partitions} partitions",
            )
            runs[side].append(result)
            print(step, partitions, side, json.dumps(result), file=sys.stderr, flush=True)
    summary: dict = {
        "step": step,
        "partitions": partitions,
        "rows": rows,
        "numeric_frame_mib": round(rows * (FEATURES + 1) * 8 / 2**20),
        "snapshot_mib": round(snapshot.stat().st_size / 2**20),
    }
    for side, results in runs.items():
        summary[side] = {
            "seconds": [round(r["seconds"], 1) for r in results],
            "peak_mib": [round(r["peak_mib"]) for r in results],
            "imports_mib": round(results[0]["imports_mib"]),
        }
    for key in ("seconds", "peak_mib"):
        pairs = zip(summary["stream"][key], summary["whole frame"][key], strict=True)
        ratios = [s / w for s, w in pairs]
        summary[f"{key}_ratio"] = [round(r, 2) for r in ratios]
        summary[f"{key}_ratio_median"] = round(statistics.median(ratios), 2)
    return summary


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--partitions", type=int, nargs="+", default=[1000, 10000])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--steps", nargs="+", default=["plan", "heldout", "sample"])
    args = parser.parse_args()
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).parent)}
    report = []
    for partitions in args.partitions:
        with tempfile.TemporaryDirectory() as scratch:
            snapshot = Path(scratch) / "data.parquet"
            rows = write_snapshot(snapshot, partitions)
            for step in args.steps:
                report.append(measure(step, partitions, rows, snapshot, Path(scratch), args, env))
                print(json.dumps(report[-1], indent=1), flush=True)
    print(json.dumps(report))


if __name__ == "__main__":
    main()
