"""Validation throughput: every data check of validate_data on a large snapshot.

Run from the repository root:

    .venv/bin/python benchmarks/validation.py [--rows 1000000 5000000]

For each size, data is generated once (``rows`` x 20 columns: 14 float, 1 int, 4
low-cardinality strings, 1 binary target) as two parquet files: the baseline (the champion's
training data) and the current snapshot, which has one float column shifted, so drift is
found as in a real run. What earlier runs store for the baseline is computed up front, not
timed: for ours the inferred schema and the drift profile that validate_data keeps next to
every snapshot; for the floor the same facts (dtypes, null shares, bin edges and shares,
category shares) as plain pandas produces them.

Then two child processes (so each one's peak RSS is its own) load the current snapshot the
way validate_data does (``ml.dataset.read_frame``, not timed) and time the checks:

* ``ours``: ``airflow_ml_provider.ml.checks.check_frame`` — the code validate_data runs —
  with the always-on guards, a 20-expectation Great Expectations suite (Data Docs
  rendered), schema inference plus the diff against the stored schema, and PSI drift on
  every column against the stored profile;
* ``pandas``: the same checks written as plain vectorised pandas/numpy (the floor).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from child import json_from_child  # noqa: E402  (needs the path above)

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


# --------------------------------------------------------------------------- baselines


def baseline_artifacts(baseline_path: Path, folder: Path) -> tuple[Path, Path]:
    """What earlier runs stored for the baseline, in each side's own form (not timed).

    ours: the inferred schema and the drift profile that validate_data keeps next to a
    snapshot; the floor: the same facts as plain pandas produces them.
    """
    import numpy as np

    from airflow_ml_provider.ml.dataset import read_frame
    from airflow_ml_provider.ml.drift import profile_frame
    from airflow_ml_provider.ml.schema import infer_schema

    baseline = read_frame(str(baseline_path), "parquet")
    ours = {"schema": infer_schema(baseline), "profile": profile_frame(baseline)}
    floor: dict = {}
    for name in baseline.columns:
        column = baseline[name]
        entry = {"dtype": str(column.dtype), "null_share": float(column.isna().mean())}
        if column.dtype.kind in "if":
            edges = np.unique(np.quantile(column.to_numpy(), np.linspace(0, 1, 11)))[1:-1]
            shares = np.histogram(column.to_numpy(), [-np.inf, *edges, np.inf])[0] / len(column)
            entry.update(edges=edges.tolist(), shares=shares.tolist())
        else:
            entry["categories"] = column.value_counts(normalize=True).to_dict()
        floor[name] = entry
    ours_path = folder / f"{baseline_path.stem}-ours.json"
    floor_path = folder / f"{baseline_path.stem}-floor.json"
    ours_path.write_text(json.dumps(ours))
    floor_path.write_text(json.dumps(floor, default=str))
    return ours_path, floor_path


# --------------------------------------------------------------------------- children


def run_ours(current, stored: dict, docs_dir: str) -> dict:
    from airflow_ml_provider.ml.checks import CheckOptions, check_frame

    options = CheckOptions(
        target="target",
        expectations=expectation_suite(),
        drift={"method": "psi"},
        docs_dir=docs_dir,
    )
    summary = check_frame(
        current, options, schema_baseline=stored["schema"], drift_baseline=stored["profile"]
    )
    return {
        "expectations": summary["evaluated"],
        "failed_expectations": len(summary["failed_expectations"]),
        "schema_findings": len(summary["schema"]["findings"]),
        "drifted_columns": summary["drift"]["drifted_columns"],
    }


def run_pandas_floor(current, stored: dict) -> dict:
    """The same checks, hand-written with vectorised pandas/numpy: the floor."""
    import numpy as np
    import pandas as pd

    failed = 0
    failed += int(len(current) < 1)
    for i in range(7):
        column = current[f"f{i}"]
        failed += int(column.isna().any())
        failed += int((~column.between(-50, 50)).any())
    for i in range(STRINGS):
        failed += int((~current[f"c{i}"].isin(CATEGORIES)).any())
    failed += int((~current["target"].isin([0, 1])).any())
    # duplicates: a 64-bit hash per row (much faster than DataFrame.duplicated())
    duplicates = pd.util.hash_pandas_object(current, index=False).duplicated().mean()
    findings, drifted = 0, []
    for name in current.columns:
        column, before = current[name], stored[name]
        # schema: dtype, null share, range, categorical domain against the baseline's
        findings += int(str(column.dtype) != before["dtype"])
        findings += int(column.isna().mean() > before["null_share"] + 0.05)
        if column.dtype.kind in "if":
            column.min(), column.max()
            edges = [-np.inf, *before["edges"], np.inf]
            base = np.asarray(before["shares"])
            cur = np.histogram(column.to_numpy(), edges)[0] / len(column)
        else:
            shares = column.value_counts(normalize=True)
            findings += int(bool(set(shares.index) - set(before["categories"])))
            base = np.asarray(list(before["categories"].values()))
            cur = shares.reindex(list(before["categories"])).fillna(0).to_numpy()
        # PSI with the baseline's bins / categories
        base, cur = np.maximum(base, 1e-4), np.maximum(cur, 1e-4)
        if float(np.sum((cur - base) * np.log(cur / base))) > 0.2:
            drifted.append(name)
    return {
        "failed_expectations": failed,
        "duplicate_share": float(duplicates),
        "schema_findings": findings,
        "drifted_columns": drifted,
    }


def child(kind: str, current_path: str, stored_path: str) -> None:
    from airflow_ml_provider.ml.dataset import read_frame

    if kind == "ours":  # import cost is paid once per worker, not per snapshot: not timed
        import great_expectations  # noqa: F401

        import airflow_ml_provider.ml.checks  # noqa: F401
        import airflow_ml_provider.ml.drift  # noqa: F401
    rss_imports = _rss_now()
    current = read_frame(current_path, "parquet")  # what validate_data does
    stored = json.loads(Path(stored_path).read_text())
    frame_bytes = int(current.memory_usage(deep=True).sum())
    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    with tempfile.TemporaryDirectory() as docs_dir:
        started = time.perf_counter()
        if kind == "ours":
            found = run_ours(current, stored, docs_dir)
        else:
            found = run_pandas_floor(current, stored)
        wall = time.perf_counter() - started
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    print(
        json.dumps(
            {
                "kind": kind,
                "rows": len(current),
                "wall_s": wall,
                "frame_bytes": frame_bytes,
                "rss_imports": rss_imports,
                "rss_after_load": rss_before,
                "peak_rss": peak,
                "found": found,
            }
        )
    )


def _rss_now() -> int:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    return 0


# --------------------------------------------------------------------------- parent


def measure(kind: str, current: Path, stored: Path) -> dict:
    env = {**os.environ, "PYTHONWARNINGS": "ignore", "TQDM_DISABLE": "1"}
    args = [__file__, "--child", kind, str(current), str(stored)]
    return json_from_child(args, env, f"{kind} child")


def report(rows: int, ours: dict, floor: dict) -> dict:
    mib = 1024 * 1024
    frame = ours["frame_bytes"]
    result = {
        "rows": rows,
        "columns": FLOATS + INTS + STRINGS + 1,
        "frame_mib": frame / mib,
        "ours_wall_s": ours["wall_s"],
        "ours_rows_per_s": rows / ours["wall_s"],
        "ours_peak_rss_mib": ours["peak_rss"] / mib,
        "ours_rss_imports_mib": ours["rss_imports"] / mib,
        "ours_rss_after_load_mib": ours["rss_after_load"] / mib,
        "floor_wall_s": floor["wall_s"],
        "floor_peak_rss_mib": floor["peak_rss"] / mib,
        "floor_rss_imports_mib": floor["rss_imports"] / mib,
        "ratio_to_floor": ours["wall_s"] / floor["wall_s"],
        "rss_ratio": ours["peak_rss"] / frame,
        "rss_ratio_above_imports": (ours["peak_rss"] - ours["rss_imports"]) / frame,
        "ours_found": ours["found"],
        "floor_found": floor["found"],
    }
    print(
        f"\n{rows:,} rows x {result['columns']} columns (DataFrame {result['frame_mib']:.0f} MiB)\n"
        f"  ours   {ours['wall_s']:7.2f} s  {result['ours_rows_per_s']:>12,.0f} rows/s  "
        f"peak RSS {result['ours_peak_rss_mib']:6.0f} MiB = {result['rss_ratio']:.1f}x the "
        f"DataFrame ({result['rss_ratio_above_imports']:.1f}x above the "
        f"{result['ours_rss_imports_mib']:.0f} MiB the interpreter holds after its imports)\n"
        f"  pandas {floor['wall_s']:7.2f} s  {rows / floor['wall_s']:>12,.0f} rows/s  "
        f"peak RSS {result['floor_peak_rss_mib']:6.0f} MiB "
        f"({result['floor_rss_imports_mib']:.0f} MiB after imports)\n"
        f"  ours / pandas floor: {result['ratio_to_floor']:.2f}x\n"
        f"  found: ours {ours['found']}; floor {floor['found']}"
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
            stored_ours, stored_floor = baseline_artifacts(baseline, Path(folder))
            ours = measure("ours", current, stored_ours)
            floor = measure("pandas", current, stored_floor)
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
