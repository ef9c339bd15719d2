"""The train/held-out split of a table with text labels: every step that reads the snapshot
(plan, the held-out rows of assemble and evaluate, the fallback's sample) computes it.

Run from the repository root:

    .venv/bin/python benchmarks/split_labels.py [--rows 20000000] [--repeats 3]

``--rows`` labels, "yes" (~50 %) or "no", as pandas object strings (what a parquet text
column reads as). Each side runs in its own fresh process, alternating:

* **ours** — ``ml.data.dataset.split_indices`` (stratified on the labels' sorted codes);
* **strings** — ``train_test_split(np.arange(n), stratify=labels)`` on the strings, what
  ``split_indices`` did before.

Both must draw the same rows (checked: a digest of the positions). Reported: wall seconds and
peak RSS above the labels (``VmHWM`` after the labels are built subtracted from the end's).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
from pathlib import Path

from child import json_from_child

MEASURE = """
import hashlib, json, sys, time
import numpy as np, pandas as pd
from sklearn.model_selection import train_test_split
from airflow_ml_provider.ml.data.dataset import split_indices
def hwm_kib():
    return int(next(l for l in open('/proc/self/status') if l.startswith('VmHWM:')).split()[1])
side, rows = sys.argv[1], int(sys.argv[2])
labels = pd.Series(np.where(np.random.default_rng(0).random(rows) < 0.5, "yes", "no"),
                   dtype=object)
base = hwm_kib()
started = time.perf_counter()
if side == "ours":
    train, test = split_indices(labels, test_size=0.25, seed=0, stratify=True,
                                task="classification")
else:
    train, test = train_test_split(np.arange(rows), test_size=0.25, random_state=0,
                                   stratify=labels)
seconds = time.perf_counter() - started
digest = hashlib.sha256(train.tobytes() + test.tobytes()).hexdigest()[:16]
print(json.dumps({"seconds": seconds, "above_labels_mib": (hwm_kib() - base) / 1024,
                  "digest": digest}))
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=20_000_000)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).parent)}
    runs: dict[str, list[dict]] = {"ours": [], "strings": []}
    for repeat in range(args.repeats):
        for side in ("ours", "strings") if repeat % 2 == 0 else ("strings", "ours"):
            result = json_from_child(["-c", MEASURE, side, str(args.rows)], env, side)
            runs[side].append(result)
    digests = {r["digest"] for results in runs.values() for r in results}
    assert len(digests) == 1, f"the two sides drew different rows: {digests}"
    report: dict = {"rows": args.rows, "same_rows": True}
    for side, results in runs.items():
        report[side] = {
            "seconds": [round(r["seconds"], 1) for r in results],
            "above_labels_mib": [round(r["above_labels_mib"]) for r in results],
        }
    for key in ("seconds", "above_labels_mib"):
        ratios = [o / s for o, s in zip(report["ours"][key], report["strings"][key], strict=True)]
        report[f"{key}_ratio_median"] = round(statistics.median(ratios), 2)
    print(json.dumps(report))


if __name__ == "__main__":
    main()
