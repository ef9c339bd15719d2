"""Validation throughput: every data check of validate_data on a large snapshot.

Run from the repository root:

    .venv/bin/python benchmarks/validation.py [--rows 1000000 5000000]

For each size, two child processes run on the same generated data (so each one's peak RSS
is its own):

* ``ours``: ``airflow_ml_provider.ml.checks.check_frame`` — the code validate_data runs —
  with the always-on guards, a 20-expectation Great Expectations suite (Data Docs
  rendered), schema inference plus the diff against a stored baseline, and PSI drift on
  every column against a baseline frame of the same size;
* ``pandas``: the same checks written as plain vectorised pandas/numpy (the floor).

Data: ``rows`` x 20 columns (14 float, 1 int, 4 low-cardinality string, 1 binary target),
written once to parquet in a temp folder; each child reads it back (not timed) and then
times only the checks. The "current" frame has one float column shifted, so drift is
found and the expectations see some failures, as in a real run.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

FLOATS, INTS, STRINGS = 14, 1, 4
CATEGORIES = ["north", "south", "east", "west", "central"]
TARGETS = {"wall_s": 20.0, "rss_ratio": 3.0, "floor_ratio": 3.0}


def make_data(rows: int, folder: Path) -> tuple[Path, Path]:
    import numpy as np
    import pandas as pd

    def frame(seed: int, shift: float) -> pd.DataFrame:
        rng = np.random.default_rng(seed)
        columns = {f"f{i}": rng.normal(i, 1 + i / 10, rows) for i in range(FLOATS)}
        columns["f0"] = columns["f0"] + shift
        columns["count"] = rng.integers(0, 1000, rows)
        for i in range(STRINGS):
            columns[f"c{i}"] = pd.Series(rng.choice(CATEGORIES, rows), dtype="string")
        columns["target"] = rng.integers(0, 2, rows)
        return pd.DataFrame(columns)

    baseline, current = folder / f"baseline-{rows}.parquet", folder / f"current-{rows}.parquet"
    frame(1, 0.0).to_parquet(baseline)
    frame(2, 0.5).to_parquet(current)
    return baseline, current


def expectation_suite() -> list[dict]:
    """20 expectations: nulls and ranges on floats, sets on strings, table-level ones."""
    items: list[dict] = [{"expect_table_row_count_to_be_between": {"min_value": 1}}]
    items += [{"expect_column_values_to_not_be_null": {"column": f"f{i}"}} for i in range(7)]
    items += [
        {
            "expect_column_values_to_be_between": {
                "column": f"f{i}",
                "min_value": -50,
                "max_value": 50,
            }
        }
        for i in range(7)
    ]
    items += [
        {"expect_column_values_to_be_in_set": {"column": f"c{i}", "value_set": CATEGORIES}}
        for i in range(STRINGS)
    ]
    items += [{"expect_column_values_to_be_in_set": {"column": "target", "value_set": [0, 1]}}]
    assert len(items) == 20
    return items


# --------------------------------------------------------------------------- children


def run_ours(current, baseline, docs_dir: str) -> dict:
    from airflow_ml_provider.ml.checks import CheckOptions, check_frame
    from airflow_ml_provider.ml.schema import infer_schema

    schema_baseline = infer_schema(baseline)  # stored by an earlier run in real life
    options = CheckOptions(
        target="target",
        expectations=expectation_suite(),
        drift={"method": "psi"},
        docs_dir=docs_dir,
    )
    summary = check_frame(
        current, options, schema_baseline=schema_baseline, drift_baseline=baseline
    )
    return {
        "expectations": summary["evaluated"],
        "failed_expectations": len(summary["failed_expectations"]),
        "schema_findings": len(summary["schema"]["findings"]),
        "drifted_columns": summary["drift"]["drifted_columns"],
    }


def run_pandas_floor(current, baseline) -> dict:
    """The same checks, hand-written with vectorised pandas/numpy: the floor."""
    import numpy as np

    failed = 0
    failed += int(len(current) < 1)
    for i in range(7):
        column = current[f"f{i}"]
        failed += int(column.isna().any())
        failed += int((~column.between(-50, 50)).any())
    for i in range(STRINGS):
        failed += int((~current[f"c{i}"].isin(CATEGORIES)).any())
    failed += int((~current["target"].isin([0, 1])).any())
    duplicates = current.duplicated().mean()
    # schema: dtypes, null shares, ranges, domains, compared with the baseline's
    findings = 0
    for name in current.columns:
        column, before = current[name], baseline[name]
        findings += int(column.dtype != before.dtype)
        findings += int(column.isna().mean() > before.isna().mean() + 0.05)
        if column.dtype.kind in "if":
            column.min(), column.max()
        else:
            findings += int(bool(set(column.dropna().unique()) - set(before.dropna().unique())))
    # PSI per column: baseline-decile bins for numbers, categories for strings
    drifted = []
    for name in current.columns:
        if current[name].dtype.kind in "if":
            edges = np.unique(np.quantile(baseline[name].to_numpy(), np.linspace(0, 1, 11)))
            edges = np.concatenate(([-np.inf], edges[1:-1], [np.inf]))
            base = np.histogram(baseline[name].to_numpy(), edges)[0] / len(baseline)
            cur = np.histogram(current[name].to_numpy(), edges)[0] / len(current)
        else:
            counts = baseline[name].value_counts(normalize=True)
            base = counts.to_numpy()
            cur = (
                current[name]
                .value_counts(normalize=True)
                .reindex(counts.index)
                .fillna(0)
                .to_numpy()
            )
        base, cur = np.maximum(base, 1e-4), np.maximum(cur, 1e-4)
        if float(np.sum((cur - base) * np.log(cur / base))) > 0.2:
            drifted.append(name)
    return {
        "failed_expectations": failed,
        "duplicate_share": float(duplicates),
        "schema_findings": findings,
        "drifted_columns": drifted,
    }


def child(kind: str, current_path: str, baseline_path: str) -> None:
    import pandas as pd

    if kind == "ours":  # import cost is paid once per worker, not per snapshot: not timed
        import great_expectations  # noqa: F401
        import scipy.stats  # noqa: F401

        import airflow_ml_provider.ml.checks  # noqa: F401
    current, baseline = pd.read_parquet(current_path), pd.read_parquet(baseline_path)
    frame_bytes = int(current.memory_usage(deep=True).sum())
    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    with tempfile.TemporaryDirectory() as docs_dir:
        started = time.perf_counter()
        if kind == "ours":
            found = run_ours(current, baseline, docs_dir)
        else:
            found = run_pandas_floor(current, baseline)
        wall = time.perf_counter() - started
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    print(
        json.dumps(
            {
                "kind": kind,
                "rows": len(current),
                "wall_s": wall,
                "frame_bytes": frame_bytes,
                "rss_after_load": rss_before,
                "peak_rss": peak,
                "found": found,
            }
        )
    )


# --------------------------------------------------------------------------- parent


def measure(kind: str, current: Path, baseline: Path) -> dict:
    env = {**os.environ, "PYTHONWARNINGS": "ignore", "TQDM_DISABLE": "1"}
    done = subprocess.run(
        [sys.executable, __file__, "--child", kind, str(current), str(baseline)],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    if done.returncode != 0:
        raise SystemExit(f"{kind} child failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def report(rows: int, ours: dict, floor: dict) -> dict:
    mib = 1024 * 1024
    result = {
        "rows": rows,
        "columns": FLOATS + INTS + STRINGS + 1,
        "frame_mib": ours["frame_bytes"] / mib,
        "ours_wall_s": ours["wall_s"],
        "ours_rows_per_s": rows / ours["wall_s"],
        "ours_peak_rss_mib": ours["peak_rss"] / mib,
        "ours_rss_after_load_mib": ours["rss_after_load"] / mib,
        "floor_wall_s": floor["wall_s"],
        "floor_peak_rss_mib": floor["peak_rss"] / mib,
        "ratio_to_floor": ours["wall_s"] / floor["wall_s"],
        "rss_ratio": ours["peak_rss"] / ours["frame_bytes"],
        "ours_found": ours["found"],
        "floor_found": floor["found"],
    }
    print(
        f"\n{rows:,} rows x {result['columns']} columns (DataFrame {result['frame_mib']:.0f} MiB)\n"
        f"  ours   {ours['wall_s']:7.2f} s  {result['ours_rows_per_s']:>12,.0f} rows/s  "
        f"peak RSS {result['ours_peak_rss_mib']:6.0f} MiB "
        f"({result['rss_ratio']:.1f}x the DataFrame; {result['ours_rss_after_load_mib']:.0f} MiB "
        "after imports + loading both frames)\n"
        f"  pandas {floor['wall_s']:7.2f} s  {rows / floor['wall_s']:>12,.0f} rows/s  "
        f"peak RSS {result['floor_peak_rss_mib']:6.0f} MiB\n"
        f"  ours / pandas floor: {result['ratio_to_floor']:.1f}x\n"
        f"  found: {ours['found']}"
    )
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, nargs="+", default=[1_000_000, 5_000_000])
    parser.add_argument("--child", nargs=3, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(*args.child)
        return
    results = []
    with tempfile.TemporaryDirectory(prefix="airflow-ml-bench-") as folder:
        for rows in args.rows:
            baseline, current = make_data(rows, Path(folder))
            ours = measure("ours", current, baseline)
            floor = measure("pandas", current, baseline)
            results.append(report(rows, ours, floor))
    first = results[0]
    met = {
        f"wall <= {TARGETS['wall_s']:.0f} s": first["ours_wall_s"] <= TARGETS["wall_s"],
        f"peak RSS <= {TARGETS['rss_ratio']:.0f}x DataFrame": first["rss_ratio"]
        <= TARGETS["rss_ratio"],
        f"<= {TARGETS['floor_ratio']:.0f}x pandas floor": first["ratio_to_floor"]
        <= TARGETS["floor_ratio"],
    }
    print(f"\ntargets at {first['rows']:,} rows: {met}")
    print(json.dumps(results))


if __name__ == "__main__":
    main()
