"""A fifty-store table and the partitioned pipeline over it."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

STORES, ROWS, FEATURES = 50, 200, ["x0", "x1", "x2", "x3"]


def store_data(seed: int = 0, stores: int = STORES) -> pd.DataFrame:
    """``stores`` stores of ROWS rows, each with its own relation, plus two tiny ones."""
    rng = np.random.default_rng(seed)
    weights = rng.normal(size=(STORES, len(FEATURES))) * 3
    frames = []
    for store in range(stores):
        x = rng.normal(size=(ROWS, len(FEATURES)))
        label = (x @ weights[store] + rng.normal(size=ROWS) > 0).astype(int)
        frames.append(pd.DataFrame(x, columns=FEATURES).assign(store=f"s{store:02d}", label=label))
    tiny = rng.normal(size=(8, len(FEATURES)))
    for name in ("tiny_a", "tiny_b"):
        frames.append(pd.DataFrame(tiny, columns=FEATURES).assign(store=name, label=[0, 1] * 4))
    return pd.concat(frames, ignore_index=True)


def region_rules(regions: int = 6, rows: int = 120) -> pd.DataFrame:
    """``regions`` regions of ``rows`` rows, each with its own rule: the label is the sign of
    feature a, b or c by region (a model per region wins)."""
    rng = np.random.default_rng(5)
    frames = []
    for region in range(regions):
        x = rng.normal(size=(rows, 3))
        label = (x[:, region % 3] > 0).astype(int)
        frames.append(pd.DataFrame(x, columns=["a", "b", "c"]).assign(region=region, label=label))
    return pd.concat(frames, ignore_index=True)


PIPELINE = """
pipeline: {name}
data:
  source: data/stores.csv
  target: label
  partition_by: store
  split: {{test_size: 0.25, seed: 3, stratify: true}}
validation:
  expectations:
    - expect_column_values_to_not_be_null: {{column: store}}
training:
  estimator: sklearn.linear_model.LogisticRegression
  params: {params}
  partitioning:
    partitions_per_task: 10
    max_parallel: 2
    processes_per_task: 2
    min_partition_rows: 20
    min_success_ratio: 0.9
evaluation:
  primary_metric: accuracy
  metrics: [roc_auc]
  thresholds: {{accuracy: 0.7}}
registry:
  model_name: {name}_model
"""


def write_partitioned(
    folder: Path, name: str, params: str = "{C: 1.0}", stores: int = STORES
) -> Path:
    (folder / "data").mkdir(parents=True, exist_ok=True)
    store_data(stores=stores).to_csv(folder / "data" / "stores.csv", index=False)
    path = folder / f"{name}.yaml"
    path.write_text(PIPELINE.format(name=name, params=params))
    return path
