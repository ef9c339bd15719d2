"""Packages and disk the provider adds to an Airflow install, per set of extras (issue 34).

Each contender is a fresh virtual environment with uv, from this repository's uv.lock (the
same pinned versions CI tests): Airflow alone (apache-airflow and its standard provider as
locked), the base package, and the base package with extras. Reported: distributions
installed and the environment's size on disk. Run from the repository root (uv's cache
makes it quick once warm):

    .venv/bin/python benchmarks/install_footprint.py
    .venv/bin/python benchmarks/install_footprint.py --extras kubernetes gcp optuna
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import tempfile
from pathlib import Path

UV = [shutil.which("uv") or "python3", *([] if shutil.which("uv") else ["-m", "uv"])]
"""uv as the Makefile runs it (python3 -m uv) unless a uv binary is on PATH."""


def environment(folder: Path, requirements: list[str]) -> tuple[int, int]:
    """A venv in ``folder`` with ``requirements`` installed: (distributions, bytes)."""
    subprocess.run([*UV, "venv", "-q", str(folder)], check=True)
    python = str(folder / "bin" / "python")
    subprocess.run([*UV, "pip", "install", "-q", "--python", python, *requirements], check=True)
    count = subprocess.run(
        [python, "-c", "import importlib.metadata as m; print(len(list(m.distributions())))"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    size = sum(f.stat().st_size for f in folder.rglob("*") if f.is_file() and not f.is_symlink())
    return int(count), size


def locked(extras: list[str], project: bool) -> list[str]:
    """The locked requirements of the package with ``extras`` (the project itself too)."""
    flags = [flag for extra in extras for flag in ("--extra", extra)]
    text = subprocess.run(
        [*UV, "export", "--frozen", "--no-hashes", "--no-dev", "-q", "--no-emit-project", *flags],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    lines = [line for line in text.splitlines() if line and not line.startswith(("#", " "))]
    return (["-r", _write(lines)] if lines else []) + (["--no-deps", "-e", "."] if project else [])


def _write(lines: list[str]) -> str:
    with tempfile.NamedTemporaryFile("w", suffix=".txt", delete=False) as handle:
        handle.write("\n".join(lines))
    return handle.name


def airflow_alone() -> list[str]:
    """apache-airflow and its standard provider at the locked versions (their own deps
    resolved by uv as a user's ``pip install apache-airflow`` would)."""
    text = Path(locked([], project=False)[1]).read_text().splitlines()
    wanted = ("apache-airflow==", "apache-airflow-providers-standard==")
    return [line.split(" ;")[0] for line in text if line.startswith(wanted)]


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--extras", nargs="*", default=["kubernetes", "gcp", "optuna"])
    args = parser.parse_args()
    contenders = {
        "airflow alone": airflow_alone(),
        "airflow-ml-provider (base)": locked([], project=True),
        f"+ [{','.join(args.extras)}]": locked(args.extras, project=True),
    }
    rows = []
    with tempfile.TemporaryDirectory() as scratch:
        for index, (name, requirements) in enumerate(contenders.items()):
            count, size = environment(Path(scratch) / f"env{index}", requirements)
            rows.append((name, count, size))
            print(f"{name:40s} {count:4d} distributions {size / 2**20:8.0f} MiB", flush=True)
    base_count, base_size = rows[0][1], rows[0][2]
    print("\n| install | distributions | MiB | added to Airflow |")
    print("| --- | ---: | ---: | --- |")
    for name, count, size in rows:
        added = f"+{count - base_count} / +{(size - base_size) / 2**20:.0f} MiB"
        print(f"| {name} | {count} | {size / 2**20:.0f} | {added} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
