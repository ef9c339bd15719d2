"""Files that used to crash the loader (and with it the whole DAG folder) are each one
file:line:column error, found without expanding the file: an impossible timestamp, a
duration too long to represent, nesting thousands deep, an alias bomb, a huge file."""

from __future__ import annotations

import time

import pytest

from airflow_ml_provider.pipeline_spec import SpecError, load_pipeline
from helpers.hostile_yaml import CRASHERS
from helpers.paths import EXAMPLE_YAML


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
