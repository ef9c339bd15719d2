"""plan_partitions' peak memory: streaming the snapshot into chunk files (issue 35.1) against
the whole-frame plan it replaced, in the same run.

Run from the repository root:

    .venv/bin/python benchmarks/plan_memory.py [--partitions 1000 10000] [--repeats 3]

For each size a snapshot of N partitions x 2,000 rows (20 float features, a text partition
column, a 0/1 label; 1 M-row row groups, as snapshot_data writes it) is generated once.
Then, alternating, each side runs in its own fresh process (so its peak RSS is its own):

* **stream** — what the plan_partitions task does now: read the partition and target
  columns, ``plan_chunks``, ``write_chunk_files`` (64 chunk files per pass over the file);
* **whole frame** — what it did before: ``pandas.read_parquet`` of the whole snapshot,
  ``plan_partitions`` in memory and one ``pyarrow.parquet.write_table`` per chunk.

Reported: wall seconds and peak RSS (``ru_maxrss``) of each, their ratios, and the snapshot
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
import json, resource, sys, time
from pathlib import Path
side, snapshot, out = sys.argv[1], Path(sys.argv[2]), Path(sys.argv[3])
settings = json.loads(sys.argv[4])
import numpy, pandas, pyarrow.parquet as pq
from airflow_ml_provider.core.formats import dictionary_columns
from airflow_ml_provider.ml.partitions.plan import plan_chunks, plan_partitions, write_chunk_files
base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
started = time.perf_counter()
if side == "stream":
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
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--partitions", type=int, nargs="+", default=[1000, 10000])
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).parent)}
    report = []
    for partitions in args.partitions:
        with tempfile.TemporaryDirectory() as scratch:
            snapshot = Path(scratch) / "data.parquet"
            rows = write_snapshot(snapshot, partitions)
            frame_mib = rows * (FEATURES + 1) * 8 / 2**20  # floats and labels; + the names
            runs: dict[str, list[dict]] = {"stream": [], "whole frame": []}
            for repeat in range(args.repeats):
                for side in (
                    ("stream", "whole frame") if repeat % 2 == 0 else ("whole frame", "stream")
                ):
                    out = Path(scratch) / f"{side}-{repeat}".replace(" ", "_")
                    out.mkdir()
                    result = json_from_child(
                        ["-c", MEASURE, side, str(snapshot), str(out), json.dumps(SETTINGS)],
                        env,
                        f"{side} at {partitions} partitions",
                    )
                    runs[side].append(result)
                    print(partitions, side, json.dumps(result), file=sys.stderr, flush=True)
            summary = {
                "partitions": partitions,
                "rows": rows,
                "numeric_frame_mib": round(frame_mib),
                "snapshot_mib": round(snapshot.stat().st_size / 2**20),
            }
            for side, results in runs.items():
                summary[side] = {
                    "seconds": [round(r["seconds"], 1) for r in results],
                    "peak_mib": [round(r["peak_mib"]) for r in results],
                    "imports_mib": round(results[0]["imports_mib"]),
                }
            for key in ("seconds", "peak_mib"):
                ratios = [
                    s / w
                    for s, w in zip(
                        summary["stream"][key], summary["whole frame"][key], strict=True
                    )
                ]
                summary[f"{key}_ratio"] = [round(r, 2) for r in ratios]
                summary[f"{key}_ratio_median"] = round(statistics.median(ratios), 2)
            report.append(summary)
            print(json.dumps(summary, indent=1), flush=True)
    print(json.dumps(report))


if __name__ == "__main__":
    main()
