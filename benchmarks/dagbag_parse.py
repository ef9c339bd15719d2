"""DagBag benchmark: a real Airflow DagBag over a DAGs folder holding the loader file and N
pipeline files, each pass in a fresh process (as the DAG processor parses), with the
content-hash parse cache off, cold (first pass after a change) and warm (nothing changed).

Run from the repository root:

    .venv/bin/python benchmarks/dagbag_parse.py [--count 1000] [--rounds 3]

Each round runs the three modes in a rotated order; the figures are medians over rounds and
the ratio is warm / off within each round. DagBag enforces ``[core] dagbag_import_timeout``
(30 s by default) on the import of dags/ml_pipelines.py: a pass over that limit loads no DAG.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))

from child import json_from_child  # noqa: E402  (needs the path above)
from parse_time import write_our_pipelines  # noqa: E402

IMPORT_TIMEOUT_S = 30.0

ONE_PASS = """
import json, sys, time
start = time.perf_counter()
from airflow.dag_processing.dagbag import DagBag
imported = time.perf_counter()
bag = DagBag(dag_folder=sys.argv[1])
done = time.perf_counter()
errors = [d for d in bag.dag_ids if d.startswith("config_error__")]
print(json.dumps({"import_s": imported - start, "dagbag_s": done - imported,
                  "dags": len(bag.dag_ids), "config_errors": len(errors),
                  "import_errors": {k: v[:300] for k, v in bag.import_errors.items()}}))
"""


def one_pass(dags_folder: Path, home: Path, cache: str) -> dict:
    env = {
        **os.environ,
        "AIRFLOW_HOME": str(home),
        "AIRFLOW__CORE__DAGS_FOLDER": str(dags_folder),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__ML_PROVIDER__PARSE_CACHE": cache,
    }
    return json_from_child(["-c", ONE_PASS, str(dags_folder)], env, "a DagBag pass")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    scratch = Path(tempfile.mkdtemp(prefix="dagbag_parse_"))
    try:
        dags = scratch / "dags"
        write_our_pipelines(dags / "pipelines", args.count)
        shutil.copyfile(ROOT / "dags" / "ml_pipelines.py", dags / "ml_pipelines.py")
        home = scratch / "home"
        home.mkdir()
        cache = scratch / "parse-cache"
        modes = ["off", "cold", "warm"]
        seconds: dict[str, list[float]] = {mode: [] for mode in modes}
        ratios = []
        for round_index in range(args.rounds):
            order = modes[round_index % 3 :] + modes[: round_index % 3]
            this_round = {}
            for mode in order:
                if mode == "off":
                    outcome = one_pass(dags, home, "off")
                else:
                    if mode == "cold":
                        shutil.rmtree(cache, ignore_errors=True)
                    elif not cache.exists():  # warm needs a filled cache
                        one_pass(dags, home, str(cache))
                    outcome = one_pass(dags, home, str(cache))
                if outcome["import_errors"] or outcome["dags"] != args.count:
                    raise SystemExit(f"{mode}: {outcome}")
                this_round[mode] = outcome["dagbag_s"]
                seconds[mode].append(outcome["dagbag_s"])
                print(
                    f"round {round_index + 1} {mode:>4}: DagBag {outcome['dagbag_s']:.2f} s "
                    f"({outcome['dags']} DAGs, airflow import {outcome['import_s']:.1f} s)",
                    flush=True,
                )
            ratios.append(this_round["warm"] / this_round["off"])
        print()
        print(f"{args.count} pipeline files, {args.rounds} rounds, nproc {os.cpu_count()}")
        for mode in modes:
            values = ", ".join(f"{v:.2f}" for v in seconds[mode])
            print(f"  cache {mode:>4}: median {statistics.median(seconds[mode]):.2f} s ({values})")
        print(
            f"  warm / off: median {statistics.median(ratios):.2f} "
            f"({', '.join(f'{r:.2f}' for r in ratios)})"
        )
        worst = max(max(v) for v in seconds.values())
        print(
            f"  slowest pass {worst:.2f} s; import timeout {IMPORT_TIMEOUT_S:.0f} s: "
            f"{'MET' if worst < IMPORT_TIMEOUT_S else 'NOT MET'}"
        )
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
