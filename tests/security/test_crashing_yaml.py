"""Files that crashed the DAG processor (SIGSEGV in PyYAML's C composer, which recurses once
per nesting level): each is refused at its real line:column before the C parser sees it, and
every process that reads it — the DAG processor's DagBag, `airflow-ml check`, another
pipeline's task — exits cleanly. Each runs in a subprocess: at the previous commit they die
with signal 11, which would take the test process down with them."""

from __future__ import annotations

import json
import random
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from helpers.paths import EXAMPLE_CSV, EXAMPLE_YAML, REPO

DEPTH = 50_000
CRASHERS = {
    "flow_lists": ("data: " + "[" * DEPTH + "]" * DEPTH + "\n", (2, 47)),
    "flow_mappings": ("data: " + "{a: " * DEPTH + "1" + "}" * DEPTH + "\n", (2, 167)),
    "mixed_flow": ("data: " + "[{a: " * (DEPTH // 2) + "\n", (2, 107)),
    "unclosed": ("data: " + "[" * DEPTH + "\n", (2, 47)),
    "block_sequences": ("data:\n  " + "- " * DEPTH + "x\n", (3, 3)),
    "after_a_quote": ("description: rock 'n roll\ndata: " + "[" * DEPTH + "\n", (3, 47)),
}
"""Text after ``pipeline: <id>`` and where the refusal must point (line, column)."""


def _write(folder: Path, name: str, body: str) -> Path:
    path = folder / f"{name}.yaml"
    path.write_text(f"pipeline: crash_{name}\n{body}")
    return path


def _run(code: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=300,
    )


@pytest.mark.parametrize("name", sorted(CRASHERS))
def test_check_refuses_a_crasher_at_its_position_and_exits_cleanly(name, tmp_path):
    body, (line, column) = CRASHERS[name]
    path = _write(tmp_path, name, body)
    done = subprocess.run(
        [sys.executable, "-m", "airflow_ml_provider.cli", "check", "--fast", str(path)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 1, (done.returncode, done.stderr[-500:])
    assert f"{path}:{line}:{column}: invalid YAML: nested more than 40 levels deep" in (
        done.stdout + done.stderr
    )


def test_the_dag_processor_keeps_every_other_pipeline(tmp_path, airflow_db):
    """A real DagBag (what the DAG processor runs) over a folder with a good pipeline and every
    crasher, in its own process: it exits 0, the good DAG is there and each crasher is its
    own config-error DAG."""
    pipelines = tmp_path / "pipelines"
    (pipelines / "data").mkdir(parents=True)
    (tmp_path / "ml_pipelines.py").write_text((REPO / "dags" / "ml_pipelines.py").read_text())
    (pipelines / "data" / EXAMPLE_CSV.name).write_bytes(EXAMPLE_CSV.read_bytes())
    (pipelines / "breast_cancer.yaml").write_text(EXAMPLE_YAML.read_text())
    for name, (body, _) in CRASHERS.items():
        _write(pipelines, name, body)
    done = _run(
        f"""
        import json
        from airflow.dag_processing.dagbag import DagBag
        bag = DagBag(dag_folder={str(tmp_path)!r})
        print(json.dumps({{"dags": sorted(bag.dag_ids), "errors": len(bag.import_errors)}}))
        """,
        tmp_path,
    )
    assert done.returncode == 0, (done.returncode, done.stderr[-800:])
    seen = json.loads(done.stdout.strip().splitlines()[-1])
    assert seen["errors"] == 0
    assert "breast_cancer_ct" in seen["dags"]
    assert {f"config_error__{name}" for name in CRASHERS} <= set(seen["dags"])


def test_a_fuzz_corpus_never_crashes_check(tmp_path):
    """850 mutated pipeline files (the example with junk, deep nesting of 5 to 50,000 levels
    in flow and block form, quotes and comments around brackets), all read by one real
    `airflow-ml check --fast` process: it ends with exit 1 (some invalid), never a signal,
    and every refusal names a real line (not 1:1 unless that is where the problem is)."""
    rng = random.Random(20261205)
    base = EXAMPLE_YAML.read_text().splitlines()
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / EXAMPLE_CSV.name).write_bytes(EXAMPLE_CSV.read_bytes())
    paths = []
    for number in range(850):
        lines = list(base)
        index = rng.randrange(1, len(lines))
        key = lines[index].split(":", 1)[0]
        depth = rng.choice([5, 39, 41, 300, 5_000, 50_000])
        opener = rng.choice(["[", "{a: ", "[{a: ", "- ", "'[' ", "# ["])
        tail = rng.choice(["", "]" * depth, "x"])
        if opener == "- ":
            lines[index] = f"{key}:\n  " + opener * depth + "x"
        else:
            lines[index] = f"{key}: " + opener * depth + tail
        lines[0] = f"pipeline: fuzz_{number:03d}"
        path = tmp_path / f"fuzz_{number:03d}.yaml"
        path.write_text("\n".join(lines) + "\n")
        paths.append(path)
    done = subprocess.run(
        [sys.executable, "-m", "airflow_ml_provider.cli", "check", "--fast", *map(str, paths)],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode in (0, 1), (done.returncode, done.stderr[-800:])
    assert "Traceback" not in done.stdout + done.stderr
    output = done.stdout + done.stderr
    reported = [path for path in paths if f"{path}:" in output or f"ok {path}" in output]
    assert len(reported) == len(paths)
    at_one_one = [p for p in paths if f"{p}:1:1:" in output]
    assert not at_one_one, at_one_one[:3]
