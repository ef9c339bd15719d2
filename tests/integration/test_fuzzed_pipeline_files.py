"""A fuzz corpus of 500 mutated pipeline files (values of other types and sizes, deleted and
duplicated keys, junk bytes, truncation, deep nesting, aliases), generated here from the
example with a fixed seed: the loader never raises anything but a positioned SpecError,
`airflow-ml check --fast` (a real CLI process) gives the same verdict on every file and never
prints a traceback, and no file blows up the loader's time."""

from __future__ import annotations

import random
import subprocess
import sys
import time
from pathlib import Path

from airflow_ml_provider.pipeline_spec import SpecError, load_pipeline
from helpers.paths import EXAMPLE_CSV, EXAMPLE_YAML
from helpers.schema_check import schema_errors

FILES = 500
JUNK_VALUES = [
    "-5", "many", "1e309", "99999999999999999999", "[]", "{}", "null", "~", "''", '"\\x00"',
    "[[[[[]]]]]", "{a: {b: {c: d}}}", "2026-13-45", "2026-01-01T25:99:00", "*undefined",
    "&anchor x", "!!python/object:os.system ls", "!!binary aGVsbG8=", "1.5", "true", "-1d",
    "0", "999999999d", "é✓漢字", "'${HOME}'", "'{{ conn.x.password }}'", "/etc/passwd",
    "x" * 300,
]  # fmt: skip


def mutate(text: str, rng: random.Random) -> str:
    lines = text.splitlines() or ["pipeline: x"]
    kind = rng.randrange(8)
    index = rng.randrange(len(lines))
    line = lines[index]
    if kind == 0 and ":" in line:  # a value of another type or size
        key = line.split(":", 1)[0]
        lines[index] = f"{key}: {rng.choice(JUNK_VALUES)}"
    elif kind == 1:  # a key deleted
        del lines[index]
    elif kind == 2:  # a line duplicated (duplicate keys)
        lines.insert(index, line)
    elif kind == 3:  # junk bytes
        position = rng.randrange(len(line) + 1)
        junk = "".join(rng.choice(":-[]{}&*!|>%@`'\"#\t ") for _ in range(rng.randint(1, 4)))
        lines[index] = line[:position] + junk + line[position:]
    elif kind == 4:  # truncated
        return "\n".join(lines[:index])
    elif kind == 5:  # indentation broken
        lines[index] = " " * rng.randint(1, 7) + line.lstrip()
    elif kind == 6:  # deep nesting
        depth = rng.choice([10, 60, 500])
        lines[index] = line.split(":", 1)[0] + ": " + "[" * depth + "]" * depth
    else:  # an alias bomb in front
        bomb = ["b0: &b0 [x, x, x, x, x, x, x, x]"] + [
            f"b{i}: &b{i} [{', '.join([f'*b{i - 1}'] * 8)}]" for i in range(1, 8)
        ]
        lines = bomb + lines
    return "\n".join(lines) + "\n"


def corpus(folder: Path) -> list[Path]:
    rng = random.Random(20261201)
    (folder / "data").mkdir(parents=True)
    (folder / "data" / EXAMPLE_CSV.name).write_bytes(EXAMPLE_CSV.read_bytes())
    base = EXAMPLE_YAML.read_text()
    paths = []
    for number in range(FILES):
        text = base
        for _ in range(rng.randint(1, 3)):
            text = mutate(text, rng)
        text = text.replace("pipeline: breast_cancer_ct", f"pipeline: fuzz_{number:03d}")
        text = text.replace("model_name: breast_cancer", f"model_name: fuzz_{number:03d}")
        path = folder / f"fuzz_{number:03d}.yaml"
        path.write_text(text)
        paths.append(path)
    return paths


def test_fuzzed_files_give_positioned_errors_and_check_agrees(tmp_path):
    paths = corpus(tmp_path)
    load_pipeline(EXAMPLE_YAML)  # the first load imports Airflow's config: not the files' time
    verdicts, slowest = {}, 0.0
    for path in paths:
        started = time.perf_counter()
        try:
            load_pipeline(path)
            verdicts[path] = "ok"
        except SpecError as exc:
            assert str(exc).startswith(str(path)), str(exc)
            verdicts[path] = "invalid"
        slowest = max(slowest, time.perf_counter() - started)
    # A guard against blow-ups (an alias bomb expanded would take hours), not a benchmark:
    # idle, the slowest file takes about 0.5 s (the figure is in the closing note).
    assert slowest < 20.0
    assert 50 < sum(v == "invalid" for v in verdicts.values()) < FILES  # the corpus bites

    done = subprocess.run(
        [sys.executable, "-m", "airflow_ml_provider.cli", "check", "--fast", *map(str, paths)],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert "Traceback" not in done.stdout + done.stderr
    checked = {
        Path(line.split()[1]): "ok" for line in done.stdout.splitlines() if line.startswith("ok ")
    }
    for path, verdict in verdicts.items():
        assert checked.get(path, "invalid") == verdict, path
    valid = sum(v == "ok" for v in verdicts.values())
    assert f"{valid} valid, {FILES - valid} invalid" in done.stderr


def test_the_json_schema_accepts_every_file_the_loader_accepts(tmp_path):
    """pipeline.schema.json as an editor applies it (yaml-language-server's scalars,
    jsonschema 2020-12) accepts every example and every corpus file the loader accepts, so
    an editor never marks a valid file; of the refused files that are YAML mappings it
    refuses most (the rest break rules JSON Schema cannot state: allow-lists, cross-field
    rules, the data)."""
    examples = [*(EXAMPLE_YAML.parent.glob("*.yaml"))]
    for path in examples:
        assert schema_errors(path) == [], path
    load_pipeline(EXAMPLE_YAML)
    refused = judged = 0
    for path in corpus(tmp_path):
        errors = schema_errors(path)
        try:
            load_pipeline(path)
        except SpecError:
            if errors is not None:
                judged += 1
                refused += bool(errors)
            continue
        assert errors == [], (path.name, errors)
    assert refused > 0.8 * judged, (refused, judged)
