"""Files that used to crash the loader (and with it the whole DAG folder) are each one
file:line:column error, found without expanding the file: an impossible timestamp, a
duration too long to represent, nesting thousands deep, an alias bomb, a huge file."""

from __future__ import annotations

import time

import pytest

from airflow_ml_provider.spec import SpecError, load_pipeline
from conftest import EXAMPLE_YAML


def _bomb() -> str:
    lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x]"]
    lines += [f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 9)}]" for i in range(1, 10)]
    return "\n".join([*lines, "pipeline: *a9"]) + "\n"  # 9**10 values if expanded


def _example(old: str, new: str) -> str:
    text = EXAMPLE_YAML.read_text()
    assert old in text
    return text.replace(old, new)


CRASHERS = {
    "timestamp": (
        _example("start_date: 2026-01-01", "start_date: 2026-01-01T25:99:00"),
        ":6:13: start_date: cannot read '2026-01-01T25:99:00': hour must be in 0..23",
    ),
    "duration": (
        _example("retry_delay: 5m", "retry_delay: 99999999999999999999d"),
        ":9:14: retry_delay: '99999999999999999999d' is too long a duration",
    ),
    "deep_lists": ("pipeline: x\ndata: " + "[" * 5000 + "]" * 5000 + "\n", "nested more than 40"),
    "deep_mappings": (
        "pipeline: x\ndata:\n" + "".join("  " * (i + 1) + f"k{i}:\n" for i in range(300)),
        "nested more than 40 levels deep",
    ),
    "alias_bomb": (_bomb(), "the file expands to more than 20,000 values"),
    "huge": ("pipeline: x\n" + "#" * 2_000_000 + "\n", ":1:1: the file is 2,000,013 bytes"),
}


@pytest.fixture(scope="module")
def warm():
    """Load a good file once, so the timing below is the file's, not the first imports'."""
    load_pipeline(EXAMPLE_YAML)


@pytest.mark.parametrize("name", sorted(CRASHERS))
def test_a_crasher_is_one_positioned_error(tmp_path, warm, name):
    text, expected = CRASHERS[name]
    path = tmp_path / f"{name}.yaml"
    path.write_text(text)
    started = time.perf_counter()
    with pytest.raises(SpecError) as caught:
        load_pipeline(path)
    assert time.perf_counter() - started < 20.0  # a guard against blow-ups, not a benchmark
    message = str(caught.value)
    assert message.startswith(str(path)), message
    assert expected in message
