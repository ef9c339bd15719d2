"""Parse-time benchmark: what the DAG processor pays to turn N pipeline YAML files into DAGs,
next to dag-factory and to the same DAGs written by hand.

Run from the repository root:

    .venv/bin/python benchmarks/parse_time.py [--count 200] [--rounds 3] [--profile]

Four contenders build the same N DAGs (same DAG settings, the default plan's task chain), each
in a fresh process (as Airflow's DAG processor parses each file in a process of its own),
once per round, in an order rotated every round:

- ``ours-cold``: the real loader file (a copy of ``dags/ml_pipelines.py``) over N copies of
  ``dags/pipelines/breast_cancer.yaml``, the parse cache emptied first (the pass after a
  deploy or an edit of every file);
- ``ours-warm``: the same, the parse cache as the previous pass left it (every later pass);
- ``dag-factory``: astronomer's dag-factory, ``load_yaml_dags`` over N configs whose tasks
  are ``EmptyOperator`` (the lightest operator, so the ratio is not flattered);
- ``hand-written``: N Python DAG files of plain ``airflow.sdk`` DAGs with ``PythonOperator``
  tasks, each executed the way a DagBag runs a DAG file.

Timed: building the DAGs only (``import airflow.sdk`` and each contender's own modules —
the provider's factory, dagfactory, the operator module — are apart and printed). Ratios are taken
within a round. dag-factory is installed for the benchmark only, into benchmarks/.deps
(``--no-deps``), the first time the script runs.
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
import runpy
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from airflow_ml_provider.cli.redirect import redirect_output

# Neither module imports Airflow, so AIRFLOW_HOME can still be set before Airflow loads.
from airflow_ml_provider.core.steps import DEFAULT_PLAN

ROOT = Path(__file__).resolve().parents[1]
DEPS = ROOT / "benchmarks" / ".deps"
SOURCE_YAML = ROOT / "dags" / "pipelines" / "breast_cancer.yaml"
SOURCE_CSV = ROOT / "dags" / "pipelines" / "data" / "breast_cancer.csv"
LOADER = ROOT / "dags" / "ml_pipelines.py"

DAG_FACTORY_VERSION = "1.1.0"  # newest on PyPI when written; supports Airflow 3
DAG_FACTORY_DEPS = {"pathspec": "pathspec", "typer": "typer", "httpx": "httpx"}
TASK_CHAIN = DEFAULT_PLAN
CONTENDERS = ("ours-cold", "ours-warm", "dag-factory", "hand-written")
TARGET_MS_PER_DAG = 3.0
TARGET_VS_DAG_FACTORY = 0.5
TARGET_VS_HAND_WRITTEN = 2.0

HAND_WRITTEN = """from datetime import datetime, timedelta

from airflow.providers.standard.operators.python import PythonOperator
from airflow.sdk import DAG, chain


def step(name):
    print(name)


with DAG(
    dag_id="{dag_id}",
    description="Retrain the tumour classifier when new labelled data lands.",
    schedule="@daily",
    start_date=datetime(2026, 1, 1),
    catchup=False,
    max_active_runs=1,
    tags=["demo"],
    default_args={{"owner": "ml-platform", "retries": 2, "retry_delay": timedelta(minutes=5)}},
) as dag:
    chain(*[PythonOperator(task_id=t, python_callable=step, op_args=[t]) for t in {tasks!r}])
"""


# --------------------------------------------------------------------------- set-up


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
        # a registered model belongs to one pipeline: each copy names its own
        body = re.sub(r"^(\s+model_name:) .*$", rf"\1 {dag_id}", body, flags=re.MULTILINE)
        (folder / f"{dag_id}.yaml").write_text(body)
    return ids


def dag_factory_yaml(dag_id: str) -> str:
    """One dag-factory config with our DAG settings and task chain, EmptyOperator tasks."""
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
            "      operator: airflow.providers.standard.operators.empty.EmptyOperator",
        ]
        if previous:
            lines.append(f"      dependencies: [{previous}]")
        previous = task_id
    return "\n".join(lines) + "\n"


def write_inputs(scratch: Path, count: int) -> list[str]:
    """Our DAGs folder (loader + YAML), dag-factory's configs and the hand-written files."""
    ids = write_our_pipelines(scratch / "dags" / "pipelines", count)
    shutil.copyfile(LOADER, scratch / "dags" / LOADER.name)
    for name in ("dag_factory", "hand_written"):
        (scratch / name).mkdir()
    for dag_id in ids:
        (scratch / "dag_factory" / f"{dag_id}.yaml").write_text(dag_factory_yaml(dag_id))
        text = HAND_WRITTEN.format(dag_id=dag_id, tasks=list(TASK_CHAIN))
        (scratch / "hand_written" / f"{dag_id}.py").write_text(text)
    return ids


# --------------------------------------------------------------------------- one contender


def check_dags(dags: dict[str, Any], ids: list[str], who: str) -> None:
    """Every expected DAG, none a config_error DAG, each holding the default plan's chain."""
    errors = sorted(d for d in dags if d.startswith("config_error__"))
    if errors:
        raise SystemExit(f"{who}: {len(errors)} config_error DAGs: {dags[errors[0]].description}")
    if sorted(dags) != sorted(ids):
        raise SystemExit(f"{who}: built {len(dags)} DAGs, expected {len(ids)}")
    for dag in dags.values():
        if sorted(dag.task_ids) != sorted(TASK_CHAIN):
            raise SystemExit(f"{who}: {dag.dag_id} has tasks {dag.task_ids}")
        for upstream, downstream in zip(TASK_CHAIN, TASK_CHAIN[1:], strict=False):
            if downstream not in dag.get_task(upstream).downstream_task_ids:
                raise SystemExit(f"{who}: {dag.dag_id}: {upstream} is not before {downstream}")


def _dags_in(namespace: dict[str, Any]) -> dict[str, Any]:
    from airflow.sdk import DAG

    return {value.dag_id: value for value in namespace.values() if isinstance(value, DAG)}


def builder(contender: str, scratch: Path):
    """What the contender's timed pass runs: a callable returning {dag_id: DAG}."""
    if contender.startswith("ours"):
        import airflow_ml_provider.factory  # noqa: F401  (what the loader file imports)

        loader = str(scratch / "dags" / LOADER.name)
        return lambda: _dags_in(runpy.run_path(loader, run_name="ml_pipelines"))
    if contender == "dag-factory":
        import airflow.providers.standard.operators.empty  # noqa: F401  (the tasks' operator)
        import dagfactory

        def build() -> dict[str, Any]:
            namespace: dict[str, Any] = {}
            folder = str(scratch / "dag_factory")
            dagfactory.load_yaml_dags(
                globals_dict=namespace, dags_folder=folder, defaults_config_path=folder
            )
            return _dags_in(namespace)

        return build
    import airflow.providers.standard.operators.python  # noqa: F401  (imported by each file)

    files = sorted((scratch / "hand_written").glob("*.py"))

    def build_hand_written() -> dict[str, Any]:
        dags: dict[str, Any] = {}
        for index, file in enumerate(files):
            dags.update(_dags_in(runpy.run_path(str(file), run_name=f"unusual_prefix_{index}")))
        return dags

    return build_hand_written


def child(contender: str, scratch: Path, count: int, result: Path, profile: bool) -> None:
    """One fresh process: import Airflow, build the contender's DAGs once, write the timing."""
    # ours-cold and ours-warm are two passes of one DAG processor: the same AIRFLOW_HOME.
    # (The parse cache keys on the loader's settings, whose default data roots include the
    # artifact store under AIRFLOW_HOME: a home per pass made every warm pass a miss.)
    home = scratch / ("home-ours" if contender.startswith("ours") else f"home-{contender}")
    shutil.rmtree(home, ignore_errors=True)
    home.mkdir()
    os.environ.update(
        AIRFLOW_HOME=str(home),
        AIRFLOW__CORE__LOAD_EXAMPLES="False",
        AIRFLOW__CORE__DAGS_FOLDER=str(scratch / "dags"),
        AIRFLOW__ML_PROVIDER__PARSE_CACHE=str(scratch / "parse-cache"),
        AIRFLOW__DAG_FACTORY__ENABLE_TELEMETRY="False",
        SCARF_NO_ANALYTICS="True",
        DO_NOT_TRACK="True",
    )
    if contender == "ours-cold":
        shutil.rmtree(scratch / "parse-cache", ignore_errors=True)
    sys.path.insert(0, str(DEPS))
    log = scratch / f"{contender}.log"
    with redirect_output(log):
        started = time.perf_counter()
        import airflow.sdk  # noqa: F401

        import_s = time.perf_counter() - started
        started = time.perf_counter()
        build = builder(contender, scratch)
        library_s = time.perf_counter() - started
        profiler = cProfile.Profile() if profile else None
        started = time.perf_counter()
        dags = profiler.runcall(build) if profiler else build()
        build_s = time.perf_counter() - started
    check_dags(dags, [f"bench_{i:03d}" for i in range(count)], contender)
    report = {
        "import_s": import_s,
        "library_s": library_s,
        "build_s": build_s,
        "ms_per_dag": build_s * 1000 / count,
    }
    if profiler:
        out = io.StringIO()
        for order in ("cumulative", "tottime"):
            out.write(f"--- top 20 by {order} ---\n")
            pstats.Stats(profiler, stream=out).strip_dirs().sort_stats(order).print_stats(20)
        report["profile"] = out.getvalue()
    result.write_text(json.dumps(report))


def run_child(contender: str, scratch: Path, count: int, profile: bool = False) -> dict:
    result = scratch / f"{contender}.json"
    command = [sys.executable, __file__, "--child", contender, "--scratch", str(scratch)]
    command += ["--count", str(count)] + (["--profile"] if profile else [])
    done = subprocess.run(command, capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"{contender} failed:\n{done.stdout[-2000:]}{done.stderr[-3000:]}")
    return json.loads(result.read_text())


# --------------------------------------------------------------------------- report


def spread(values: list[float]) -> str:
    return f"{min(values):.2f} / {statistics.median(values):.2f} / {max(values):.2f}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=200, help="pipeline files (default 200)")
    parser.add_argument("--rounds", type=int, default=3, help="fresh processes per contender")
    parser.add_argument("--profile", action="store_true", help="cProfile one ours-warm pass")
    parser.add_argument("--child", choices=CONTENDERS, help=argparse.SUPPRESS)
    parser.add_argument("--scratch", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        child(
            args.child, args.scratch, args.count, args.scratch / f"{args.child}.json", args.profile
        )
        return 0
    ensure_dag_factory()
    scratch = Path(tempfile.mkdtemp(prefix="parse_time_"))
    try:
        write_inputs(scratch, args.count)
        return measure(args, scratch)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def measure(args: argparse.Namespace, scratch: Path) -> int:
    # ours-cold then ours-warm stay adjacent (warm reads what cold wrote); the pair and the
    # two baselines rotate.
    units = [("ours-cold", "ours-warm"), ("dag-factory",), ("hand-written",)]
    rounds: list[dict[str, dict]] = []
    for index in range(args.rounds):
        shift = index % len(units)
        order = [name for unit in units[shift:] + units[:shift] for name in unit]
        rounds.append({name: run_child(name, scratch, args.count) for name in order})
        print(
            f"round {index + 1}: "
            + ", ".join(f"{name} {rounds[-1][name]['ms_per_dag']:.2f} ms/DAG" for name in order),
            flush=True,
        )

    import airflow

    ms = {name: [r[name]["ms_per_dag"] for r in rounds] for name in CONTENDERS}
    ratios = {
        f"{ours} / {base}": [r[ours]["ms_per_dag"] / r[base]["ms_per_dag"] for r in rounds]
        for ours in ("ours-cold", "ours-warm")
        for base in ("dag-factory", "hand-written")
    }
    print(
        f"\n{args.count} DAGs of {len(TASK_CHAIN)} tasks, {args.rounds} rounds (nproc "
        f"{os.cpu_count()}, Python {platform.python_version()}, Airflow {airflow.__version__}, "
        f"dag-factory {DAG_FACTORY_VERSION})"
    )
    imports = [r["ours-cold"]["import_s"] for r in rounds]
    print(f"import airflow.sdk (apart): {spread(imports)} s (min / median / max)")
    for name in ("ours-cold", "dag-factory", "hand-written"):
        library = [r[name]["library_s"] for r in rounds]
        print(f"  then its own modules (apart), {name}: {spread(library)} s")
    print()
    print(f"{'ms per DAG':<16}{'min / median / max':>24}")
    for name in CONTENDERS:
        print(f"{name:<16}{spread(ms[name]):>24}")
    print(f"\n{'ratio (same round)':<30}{'min / median / max':>24}")
    for name, values in ratios.items():
        print(f"{name:<30}{spread(values):>24}")
    verdicts = {
        f"<= {TARGET_MS_PER_DAG:g} ms/DAG ({name})": statistics.median(ms[name])
        <= TARGET_MS_PER_DAG
        for name in ("ours-cold", "ours-warm")
    }
    for name in ("ours-cold", "ours-warm"):
        verdicts[f"<= {TARGET_VS_DAG_FACTORY:g}x dag-factory ({name})"] = (
            statistics.median(ratios[f"{name} / dag-factory"]) <= TARGET_VS_DAG_FACTORY
        )
        verdicts[f"<= {TARGET_VS_HAND_WRITTEN:g}x hand-written ({name})"] = (
            statistics.median(ratios[f"{name} / hand-written"]) <= TARGET_VS_HAND_WRITTEN
        )
    print("\ntargets (on the medians):")
    for label, met in verdicts.items():
        print(f"  {label}: {'MET' if met else 'NOT MET'}")
    if args.profile:
        print(run_child("ours-warm", scratch, args.count, profile=True)["profile"])
    print(
        json.dumps({"count": args.count, "ms_per_dag": ms, "ratios": ratios, "verdicts": verdicts})
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
