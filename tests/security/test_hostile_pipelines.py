"""An adversarial suite: pipeline files written as an attacker with write access to one of
them would (tests/helpers/hostile_pipelines.py). Each is refused — while the file is parsed,
or by `airflow-ml check`'s deep checks where the name must be imported to judge it — with
the file, the line and column of the hostile value and the field; and nothing it tried to
run left its marker file behind."""

from __future__ import annotations

import re

import pytest

from airflow_ml_provider.pipeline_spec import SpecError, load_pipeline
from helpers.hostile_pipelines import BASE, MARKER, Hostile, hostile_pipelines

CASES = hostile_pipelines()
DATA = "x,note,label\n" + "".join(f"{i},word {i % 3},{i % 2}\n" for i in range(40))


def test_the_suite_has_at_least_a_hundred_hostile_pipelines():
    assert len(CASES) >= 100
    assert len({case.name for case in CASES}) == len(CASES)


def _line_of(text: str, value: str) -> int:
    """The line of ``value``'s first occurrence at or after the first line the case changed."""
    base = BASE.splitlines()
    lines = text.splitlines()
    changed = next(i for i, line in enumerate(lines) if i >= len(base) or line != base[i])
    start = sum(len(line) + 1 for line in lines[:changed])
    return text[: text.index(value, start)].count("\n") + 1


def _refusals(case: Hostile, tmp_path) -> str:
    """What parsing (and, for deep cases, the deep checks) say about the file."""
    from airflow_ml_provider.checks.deep_checks import deep_problems
    from airflow_ml_provider.settings import allowed_estimator_modules

    (tmp_path / "data.csv").write_text(DATA)
    path = tmp_path / "hostile.yaml"
    path.write_text(case.text)
    try:
        loaded = load_pipeline(path)
    except SpecError as exc:
        assert not case.deep, f"refused while parsing, expected a deep check: {exc}"
        return str(exc)
    assert case.deep, f"{case.name} was accepted while parsing"
    problems = deep_problems(loaded, allowed_estimator_modules())
    assert problems, f"{case.name} passed airflow-ml check"
    return "\n".join(str(p) for p in problems)


@pytest.mark.parametrize("case", CASES, ids=[case.name for case in CASES])
def test_each_hostile_file_is_refused_at_its_position(case, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # a payload's relative marker would land here
    message = _refusals(case, tmp_path)
    path = tmp_path / "hostile.yaml"
    found = re.search(rf"{re.escape(str(path))}:(\d+):(\d+): {re.escape(case.field)}", message)
    assert found, message
    line, column = int(found.group(1)), int(found.group(2))
    assert line == _line_of(case.text, case.value), message
    assert case.text.splitlines()[line - 1][column - 1 :].strip(), message
    assert "Traceback" not in message
    assert not list(tmp_path.rglob(MARKER)), f"{case.name} ran its payload"
