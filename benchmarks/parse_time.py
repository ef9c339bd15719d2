"""Parse-time benchmark: how long it takes to turn N pipeline YAML files into DAG objects.

Run from the repository root:

    .venv/bin/python benchmarks/parse_time.py [--count 200]

One process measures, in order:

1. the imports: ``import airflow.sdk`` and ``from airflow_ml_provider.factory import load_dags``;
2. ``load_dags(folder, {})`` over N copies of dags/pipelines/breast_cancer.yaml, each with its
   own ``pipeline:`` id: the first full pass (what a DAG processor sees) and the best of 3
   further passes;
3. the same N DAGs, with the same task chain (the default plan), built by astronomer's
   dag-factory from YAML (BashOperator tasks), first pass and best of 3.

No database is needed: only DAG objects are built. dag-factory is installed for the benchmark
only, into benchmarks/.deps (``--no-deps``), the first time the script runs.
"""

from __future__ import annotations

import argparse
import cProfile
import importlib.util
import io
import json
import os
import platform
import pstats
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

# Neither module imports Airflow, so AIRFLOW_HOME can still be set before Airflow loads.
from airflow_ml_provider.core.steps import DEFAULT_PLAN
from airflow_ml_provider.output import redirect_output

ROOT = Path(__file__).resolve().parents[1]
DEPS = ROOT / "benchmarks" / ".deps"
SOURCE_YAML = ROOT / "dags" / "pipelines" / "breast_cancer.yaml"
SOURCE_CSV = ROOT / "dags" / "pipelines" / "data" / "breast_cancer.csv"

DAG_FACTORY_VERSION = "1.1.0"  # newest on PyPI when written; supports Airflow 3
# dag-factory's own requirements (besides Airflow, PyYAML and packaging), by import name.
DAG_FACTORY_DEPS = {"pathspec": "pathspec", "typer": "typer", "httpx": "httpx"}

TASK_CHAIN = DEFAULT_PLAN
TARGET_MS_PER_DAG = 3.0
TARGET_RATIO = 0.5
WARM_REPEATS = 3


# --------------------------------------------------------------------------- set-up


def prepare_environment(scratch: Path) -> None:
    """Airflow settings that must be in place before anything imports Airflow."""
    home = scratch / "airflow_home"
    home.mkdir()
    os.environ["AIRFLOW_HOME"] = str(home)
    os.environ["AIRFLOW__CORE__LOAD_EXAMPLES"] = "False"
    os.environ["AIRFLOW__CORE__DAGS_FOLDER"] = str(scratch / "unused_dags_folder")
    # dag-factory only sends telemetry from run-time listeners, but keep it off regardless.
    os.environ["AIRFLOW__DAG_FACTORY__ENABLE_TELEMETRY"] = "False"
    os.environ["SCARF_NO_ANALYTICS"] = "True"
    os.environ["DO_NOT_TRACK"] = "True"


def _installers() -> list[list[str]]:
    """Ways to run ``pip install`` for this interpreter, best first."""
    found: list[list[str]] = []
    if importlib.util.find_spec("pip") is not None:
        found.append([sys.executable, "-m", "pip", "install"])
    uv = shutil.which("uv")
    if uv:  # a uv-made venv has no pip; uv installs for this interpreter just the same
        found.append([uv, "pip", "install", "--python", sys.executable])
    python3 = shutil.which("python3")
    if python3:
        found.append([python3, "-m", "pip", "install"])
    return found


def _pip_install_target(requirements: list[str]) -> None:
    errors: list[str] = []
    for installer in _installers():
        command = [*installer, "--no-deps", "--target", str(DEPS), *requirements]
        print("installing:", " ".join(command), flush=True)
        result = subprocess.run(command, capture_output=True, text=True)
        if result.returncode == 0:
            return
        errors.append(f"{' '.join(command)}\n{result.stdout}{result.stderr}")
    raise SystemExit("could not install " + ", ".join(requirements) + ":\n" + "\n".join(errors))


def ensure_dag_factory() -> None:
    """Install the pinned dag-factory (and any missing small dependency) into benchmarks/.deps."""
    if not (DEPS / f"dag_factory-{DAG_FACTORY_VERSION}.dist-info").is_dir():
        shutil.rmtree(DEPS, ignore_errors=True)  # another version, or a half-done install
        _pip_install_target([f"dag-factory=={DAG_FACTORY_VERSION}"])
    sys.path.insert(0, str(DEPS))
    missing = [pkg for mod, pkg in DAG_FACTORY_DEPS.items() if not importlib.util.find_spec(mod)]
    if missing:
        _pip_install_target(missing)
        importlib.invalidate_caches()


def write_our_pipelines(folder: Path, count: int) -> list[str]:
    """N copies of the example pipeline, ids bench_000..., plus the CSV they point at."""
    text = SOURCE_YAML.read_text()
    if not re.search(r"^pipeline: .*$", text, flags=re.MULTILINE):
        raise SystemExit(f"{SOURCE_YAML} has no top-level 'pipeline:' line")
    (folder / "data").mkdir(parents=True)
    shutil.copyfile(SOURCE_CSV, folder / "data" / SOURCE_CSV.name)
    ids = [f"bench_{i:03d}" for i in range(count)]
    for dag_id in ids:
        body = re.sub(r"^pipeline: .*$", f"pipeline: {dag_id}", text, count=1, flags=re.MULTILINE)
        (folder / f"{dag_id}.yaml").write_text(body)
    return ids


def dag_factory_yaml(dag_id: str) -> str:
    """One dag-factory config with the same DAG settings and task chain (the default plan) as
    ours."""
    lines = [
        f"{dag_id}:",
        "  description: Retrain the tumour classifier when new labelled data lands.",
        '  schedule: "@daily"',
        "  start_date: 2026-01-01",
        "  catchup: false",
        "  max_active_runs: 1",
        "  tags: [demo]",
        "  default_args:",
        "    owner: ml-platform",
        "    retries: 2",
        "    retry_delay:",
        "      __type__: datetime.timedelta",
        "      minutes: 5",
        "  tasks:",
    ]
    previous = None
    for task_id in TASK_CHAIN:
        lines += [
            f"    - task_id: {task_id}",
            "      operator: airflow.providers.standard.operators.bash.BashOperator",
            f'      bash_command: "echo {task_id} {dag_id}"',
        ]
        if previous:
            lines.append(f"      dependencies: [{previous}]")
        previous = task_id
    return "\n".join(lines) + "\n"


def write_dag_factory_configs(folder: Path, ids: list[str]) -> None:
    folder.mkdir(parents=True)
    for dag_id in ids:
        (folder / f"{dag_id}.yaml").write_text(dag_factory_yaml(dag_id))


# --------------------------------------------------------------------------- measuring


@dataclass
class Phase:
    """What one contender's measurements came to."""

    import_s: float
    first: float  # seconds for the first full pass
    warm: list[float]  # seconds for each later pass
    build: Callable[[], dict[str, Any]]
    version: str


def count_lines(path: Path) -> int:
    return len(path.read_bytes().splitlines()) if path.exists() else 0


def timed(fn: Callable[[], Any]) -> tuple[float, Any]:
    start = time.perf_counter()
    result = fn()
    return time.perf_counter() - start, result


def check_dags(dags: dict[str, Any], ids: list[str], who: str) -> None:
    """Every expected DAG is there, none is a config_error DAG, each holds the default plan's
    task chain.

    (Our DAGs have extra edges too: an XComArg such as ``snapshot.output`` passed to a later
    task makes that task a downstream of the snapshot.)
    """
    errors = sorted(d for d in dags if d.startswith("config_error__"))
    if errors:
        first = dags[errors[0]]
        raise SystemExit(f"{who}: {len(errors)} config_error DAGs, e.g. {first.description}")
    if sorted(dags) != sorted(ids):
        raise SystemExit(f"{who}: built {len(dags)} DAGs, expected {len(ids)}")
    for dag_id in ids:
        dag = dags[dag_id]
        if sorted(dag.task_ids) != sorted(TASK_CHAIN):
            raise SystemExit(f"{who}: {dag_id} has tasks {dag.task_ids}")
        for upstream, downstream in zip(TASK_CHAIN, TASK_CHAIN[1:], strict=False):
            if downstream not in dag.get_task(upstream).downstream_task_ids:
                raise SystemExit(f"{who}: {dag_id}: {upstream} is not followed by {downstream}")


def measure(
    build: Callable[[], dict[str, Any]], ids: list[str], who: str
) -> tuple[float, list[float]]:
    """Seconds for the first pass, and for each of the warm passes (all checked)."""
    first, dags = timed(build)
    check_dags(dags, ids, who)
    warm = []
    for _ in range(WARM_REPEATS):
        dags = None
        seconds, dags = timed(build)
        check_dags(dags, ids, who)
        warm.append(seconds)
    return first, warm


def profile(build: Callable[[], Any], top: int = 15) -> str:
    """cProfile of one more (warm) pass: the top entries by cumulative and by own time."""
    profiler = cProfile.Profile()
    profiler.runcall(build)
    out = io.StringIO()
    for order in ("cumulative", "tottime"):
        out.write(f"--- top {top} by {order} ---\n")
        stats = pstats.Stats(profiler, stream=out)
        stats.strip_dirs().sort_stats(order).print_stats(top)
    return out.getvalue()


# --------------------------------------------------------------------------- main


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=200, help="pipeline files (default 200)")
    parser.add_argument(
        "--dagfactory-first",
        action="store_true",
        help="build dag-factory's DAGs before ours (to see any order effect)",
    )
    parser.add_argument(
        "--profile",
        action="store_true",
        help="print a cProfile of our loader even when the ms/DAG target is met",
    )
    args = parser.parse_args(argv)
    if args.count < 1:
        parser.error("--count must be at least 1")

    ensure_dag_factory()  # before any timing; a no-op once benchmarks/.deps has it
    scratch = Path(tempfile.mkdtemp(prefix="parse_time_"))
    try:
        prepare_environment(scratch)
        ours_dir = scratch / "pipelines"
        df_dir = scratch / "dag_factory"
        ids = write_our_pipelines(ours_dir, args.count)
        write_dag_factory_configs(df_dir, ids)
        return run(args, ids, scratch)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def phase_ours(ids: list[str], folder: Path, logs: dict[str, Path]) -> Phase:
    def import_ours():
        from airflow_ml_provider.factory import load_dags

        return load_dags

    with redirect_output(logs["imports"]):
        import_s, load_dags = timed(import_ours)

    def build() -> dict[str, Any]:
        return load_dags(folder, {})

    with redirect_output(logs["ours"]):
        first, warm = measure(build, ids, "ours")
    return Phase(import_s, first, warm, build, "")


def phase_dag_factory(ids: list[str], folder: Path, logs: dict[str, Path]) -> Phase:
    def import_dag_factory():
        import airflow.providers.standard.operators.bash  # noqa: F401  (the tasks' operator)
        import dagfactory

        return dagfactory

    with redirect_output(logs["imports"]):
        import_s, dagfactory = timed(import_dag_factory)

    def build() -> dict[str, Any]:
        namespace: dict[str, Any] = {}
        dagfactory.load_yaml_dags(
            globals_dict=namespace, dags_folder=str(folder), defaults_config_path=str(folder)
        )
        return namespace

    with redirect_output(logs["dag_factory"]):
        first, warm = measure(build, ids, "dag-factory")
    return Phase(import_s, first, warm, build, dagfactory.__version__)


def run(args: argparse.Namespace, ids: list[str], scratch: Path) -> int:
    count = len(ids)
    logs = {name: scratch / f"{name}.log" for name in ("imports", "ours", "dag_factory")}
    with redirect_output(logs["imports"]):
        t_sdk, _ = timed(lambda: __import__("airflow.sdk"))
    if args.dagfactory_first:
        theirs = phase_dag_factory(ids, scratch / "dag_factory", logs)
        ours = phase_ours(ids, scratch / "pipelines", logs)
    else:
        ours = phase_ours(ids, scratch / "pipelines", logs)
        theirs = phase_dag_factory(ids, scratch / "dag_factory", logs)
    log_lines = {name: count_lines(path) for name, path in logs.items()}
    t_provider, our_first, our_warm = ours.import_s, ours.first, ours.warm
    t_df_import, df_first, df_warm = theirs.import_s, theirs.first, theirs.warm
    df_version = theirs.version

    import airflow

    ms = {
        "ours_first": our_first * 1000 / count,
        "ours_warm": min(our_warm) * 1000 / count,
        "dagfactory_first": df_first * 1000 / count,
        "dagfactory_warm": min(df_warm) * 1000 / count,
    }
    ratio_first = ms["ours_first"] / ms["dagfactory_first"]
    ratio_warm = ms["ours_warm"] / ms["dagfactory_warm"]
    met_ms = ms["ours_first"] <= TARGET_MS_PER_DAG
    met_ratio = ratio_first <= TARGET_RATIO

    def verdict(ok: bool) -> str:
        return "MET" if ok else "NOT MET"

    machine = (
        f"nproc {os.cpu_count()}, Python {platform.python_version()}, "
        f"Airflow {airflow.__version__}, dag-factory {df_version}"
    )
    order = "dag-factory first, then ours" if args.dagfactory_first else "ours first"
    print()
    print(f"Parse-time benchmark: {count} pipeline files, {len(TASK_CHAIN)} tasks per DAG")
    print(f"({machine}; {order})")
    print()
    print(f"{'imports':<56}{'seconds':>10}")
    print(f"  {'import airflow.sdk':<54}{t_sdk:>10.2f}")
    print(f"  {'from airflow_ml_provider.factory import load_dags':<54}{t_provider:>10.2f}")
    print(f"  {'import dagfactory (+ BashOperator module)':<54}{t_df_import:>10.2f}")
    print()
    print(f"{'building ' + str(count) + ' DAGs':<36}{'total s':>10}{'ms/DAG':>10}")
    rows = [
        ("ours, first pass", our_first, ms["ours_first"]),
        (f"ours, best of {WARM_REPEATS} more", min(our_warm), ms["ours_warm"]),
        ("dag-factory, first pass", df_first, ms["dagfactory_first"]),
        (f"dag-factory, best of {WARM_REPEATS} more", min(df_warm), ms["dagfactory_warm"]),
    ]
    for label, seconds, per_dag in rows:
        print(f"  {label:<34}{seconds:>10.3f}{per_dag:>10.2f}")
    print()
    print(f"ratio ours / dag-factory: first pass {ratio_first:.2f}x, warm {ratio_warm:.2f}x")
    print(
        f"target <= {TARGET_MS_PER_DAG:g} ms/DAG (first pass): {verdict(met_ms)}"
        f"  [warm: {verdict(ms['ours_warm'] <= TARGET_MS_PER_DAG)}]"
    )
    print(
        f"target <= {TARGET_RATIO:g}x dag-factory (first pass): {verdict(met_ratio)}"
        f"  [warm: {verdict(ratio_warm <= TARGET_RATIO)}]"
    )
    print(
        f"log lines written while building (to a file, all {1 + WARM_REPEATS} passes): "
        f"ours {log_lines['ours']}, dag-factory {log_lines['dag_factory']}"
    )

    if args.profile or not met_ms:
        print()
        print("cProfile of one more pass of our loader (warm):")
        with redirect_output(logs["ours"]):
            report = profile(ours.build)
        print(report)

    result = {
        "count": count,
        "tasks_per_dag": len(TASK_CHAIN),
        "nproc": os.cpu_count(),
        "python": platform.python_version(),
        "airflow": airflow.__version__,
        "dag_factory": df_version,
        "order": "dagfactory_first" if args.dagfactory_first else "ours_first",
        "import_airflow_sdk_s": round(t_sdk, 3),
        "import_provider_s": round(t_provider, 3),
        "import_dagfactory_s": round(t_df_import, 3),
        "ours_first_s": round(our_first, 4),
        "ours_warm_best_s": round(min(our_warm), 4),
        "dagfactory_first_s": round(df_first, 4),
        "dagfactory_warm_best_s": round(min(df_warm), 4),
        **{f"{key}_ms_per_dag": round(value, 3) for key, value in ms.items()},
        "ratio_first": round(ratio_first, 3),
        "ratio_warm": round(ratio_warm, 3),
        "target_ms_per_dag": TARGET_MS_PER_DAG,
        "target_ratio": TARGET_RATIO,
        "meets_ms_target": met_ms,
        "meets_ratio_target": met_ratio,
        "log_lines_ours": log_lines["ours"],
        "log_lines_dagfactory": log_lines["dag_factory"],
    }
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
