"""Fit + transform time and peak memory of the features section's pipeline against the same
scikit-learn ColumnTransformer written by hand, on 1M rows x 20 mixed columns.

Each measurement is a fresh process (``--measure ours|hand --data FILE``) that reads the
parquet file, then fits and transforms; the parent alternates ours and hand-written for
``--repeats`` rounds and reports medians and ratios. Run from the repository root:

    .venv/bin/python benchmarks/preprocessing.py --rows 1000000 --repeats 3
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

NUMERIC, CATEGORICAL = 10, [5, 20, 100, 500, 1000, 5000]
WORDS = [
    "red",
    "green",
    "blue",
    "fast",
    "slow",
    "big",
    "small",
    "new",
    "old",
    "hot",
    "cold",
    "dry",
    "wet",
]
FEATURES = {
    "numeric": {"scale": "standard"},
    "text": {"max_features": 200},
    "columns": {"note_0": "text", "note_1": "text"},
}


def make_data(rows: int, path: Path) -> None:
    """10 numeric (5 % nulls), 6 categorical (cardinality 5..5000), 2 datetime, 2 short text."""
    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(0)
    columns: dict[str, object] = {}
    for i in range(NUMERIC):
        values = rng.normal(size=rows) * (i + 1)
        values[rng.random(rows) < 0.05] = np.nan
        columns[f"num_{i}"] = values
    for i, cardinality in enumerate(CATEGORICAL):
        codes = rng.zipf(1.3, size=rows) % cardinality
        columns[f"cat_{i}"] = pd.Categorical.from_codes(
            codes, [f"c{i}_{k}" for k in range(cardinality)]
        ).astype(str)
    start = np.datetime64("2020-01-01T00:00")
    for i in range(2):
        minutes = rng.integers(0, 3 * 365 * 24 * 60, size=rows)
        columns[f"when_{i}"] = start + minutes.astype("timedelta64[m]")
    for i in range(2):
        picks = rng.integers(0, len(WORDS), size=(rows, 3))
        columns[f"note_{i}"] = [" ".join(WORDS[k] for k in row) for row in picks]
    pd.DataFrame(columns).to_parquet(path, index=False)


def hand_written(frame):
    """What a scikit-learn user writes by hand for the same columns and settings."""
    import numpy as np
    import pandas as pd
    from sklearn.compose import ColumnTransformer
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.impute import SimpleImputer
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import FunctionTransformer, OneHotEncoder, StandardScaler

    def date_parts(x):
        out = {}
        for name, when in x.items():
            for part in ("year", "month", "dayofweek"):
                out[f"{name}_{part}"] = getattr(when.dt, part).astype(float)
            out[f"{name}_days"] = (when - pd.Timestamp("1970-01-01")).dt.total_seconds() / 86400
        return pd.DataFrame(out, index=x.index)

    def one_text(x):
        return x.iloc[:, 0].astype("string").fillna("").to_numpy(dtype=object)

    parts = [
        (
            "num",
            make_pipeline(SimpleImputer(strategy="median"), StandardScaler()),
            [f"num_{i}" for i in range(NUMERIC)],
        ),
        (
            "cat",
            make_pipeline(
                SimpleImputer(strategy="constant", fill_value="missing"),
                OneHotEncoder(handle_unknown="infrequent_if_exist", max_categories=20),
            ),
            [f"cat_{i}" for i in range(len(CATEGORICAL))],
        ),
        (
            "when",
            make_pipeline(FunctionTransformer(date_parts), SimpleImputer(strategy="median")),
            ["when_0", "when_1"],
        ),
    ]
    for i in range(2):
        parts.append(
            (
                f"note_{i}",
                make_pipeline(FunctionTransformer(one_text), TfidfVectorizer(max_features=200)),
                [f"note_{i}"],
            )
        )
    del np
    return ColumnTransformer(parts, sparse_threshold=0.3)


def ours(frame):
    """The provider's pipeline for FEATURES: types inferred (notes declared text), the data
    checked against them, the ColumnTransformer built from the plan."""
    from airflow_ml_provider.core.training_job import TrainingJob
    from airflow_ml_provider.ml.features.preprocessing import build_model

    job = TrainingJob.model_validate(
        {
            "estimator": "sklearn.linear_model.LogisticRegression",
            "task": "classification",
            "metrics": ["roc_auc"],
            "allowed_estimator_modules": ["sklearn."],
            # build_model reads only the seed: the rows are handed over here
            "data": {
                "uri": "file:///unused",
                "target": "y",
                "split": {"test_size": 0.25, "seed": 0},
            },
            "features": FEATURES,
        }
    )
    model, _ = build_model(job, frame)
    return model.named_steps["preprocess"]


def measure(kind: str, data: Path) -> dict:
    import pyarrow.parquet as pq

    frame = pq.read_table(data).to_pandas()
    loaded = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    started = time.perf_counter()
    transformer = (ours if kind == "ours" else hand_written)(frame)
    output = transformer.fit_transform(frame)
    seconds = time.perf_counter() - started
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return {
        "kind": kind,
        "seconds": seconds,
        "peak_rss_mb": peak / 1024,
        "after_load_mb": loaded / 1024,
        "frame_mb": frame.memory_usage(deep=True).sum() / 2**20,
        "shape": list(output.shape),
    }


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--measure", choices=["ours", "hand"])
    parser.add_argument("--data")
    args = parser.parse_args()
    if args.measure:
        print(json.dumps(measure(args.measure, Path(args.data))))
        return 0
    with tempfile.TemporaryDirectory() as folder:
        data = Path(folder) / "mixed.parquet"
        make_data(args.rows, data)
        results: dict[str, list[dict]] = {"ours": [], "hand": []}
        for round_ in range(args.repeats):
            order = ["hand", "ours"] if round_ % 2 else ["ours", "hand"]
            for kind in order:
                done = subprocess.run(
                    [sys.executable, __file__, "--measure", kind, "--data", str(data)],
                    capture_output=True,
                    text=True,
                    check=True,
                )
                record = json.loads(done.stdout.strip().splitlines()[-1])
                results[kind].append(record)
                print(
                    f"round {round_ + 1} {kind:5s} {record['seconds']:7.2f} s  "
                    f"peak {record['peak_rss_mb']:7.0f} MB  output {record['shape']}",
                    flush=True,
                )
    summary = {}
    for kind, records in results.items():
        summary[kind] = {
            "seconds": statistics.median(r["seconds"] for r in records),
            "peak_rss_mb": statistics.median(r["peak_rss_mb"] for r in records),
            "frame_mb": records[0]["frame_mb"],
        }
    time_ratio = summary["ours"]["seconds"] / summary["hand"]["seconds"]
    memory_ratio = summary["ours"]["peak_rss_mb"] / summary["hand"]["peak_rss_mb"]
    paired = [
        o["seconds"] / h["seconds"] for o, h in zip(results["ours"], results["hand"], strict=True)
    ]
    print(
        f"\n{args.rows:,} rows x 20 columns, median of {args.repeats}:\n"
        f"  hand-written ColumnTransformer {summary['hand']['seconds']:.2f} s, "
        f"peak {summary['hand']['peak_rss_mb']:.0f} MB\n"
        f"  ours (infer + check + same transformers) {summary['ours']['seconds']:.2f} s, "
        f"peak {summary['ours']['peak_rss_mb']:.0f} MB\n"
        f"  time ratio {time_ratio:.2f}x (per round {', '.join(f'{r:.2f}' for r in paired)}), "
        f"memory ratio {memory_ratio:.2f}x (target <= 1.2x each)"
    )
    print(json.dumps({"summary": summary, "time_ratio": time_ratio, "memory_ratio": memory_ratio}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
