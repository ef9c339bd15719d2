"""The training process checks what its job names before it imports any of it: a job that
did not come through the spec (edited job.json, `airflow-ml reproduce` of a tampered run, a
hand-written DAG) is refused with one line, and nothing it names runs. Also the two command
paths an adversarial review found: a private scikit-learn helper as a custom transformer and
as a tokenizer (both ran a shell command before)."""

from __future__ import annotations

import json

import pytest

from airflow_ml_provider.pipeline_spec import SpecError, load_pipeline
from helpers.hostile_pipelines import BASE, MARKER, SHELL
from helpers.training_jobs import job as entrypoint_job
from helpers.training_jobs import run_job

CHECK_OUTPUT = "sklearn.utils._testing.check_output"
RUN_SCRIPT = "sklearn.utils._testing.assert_run_python_script_without_output"


def _features_with(custom=None, tokenizer=None) -> dict:
    features: dict = {}
    if custom:
        features["custom"] = [custom]
    if tokenizer:
        features["text"] = {"tokenizer": tokenizer}
        features["columns"] = {"mean radius": {"type": "text"}}
    return features


HOSTILE_JOBS = {
    "estimator is a function": {"estimator": "os.system", "params": {}},
    "estimator is a private helper": {"estimator": CHECK_OUTPUT, "params": {"args": SHELL}},
    "estimator from a lookalike package": {"estimator": "sklearnx.svm.SVC"},
    "custom transformer is a subprocess helper": {
        "features": _features_with(
            {"class": CHECK_OUTPUT, "columns": ["mean radius"], "params": {"args": SHELL}}
        )  # fmt: skip
    },
    "tokenizer is a private helper": {"features": _features_with(tokenizer=RUN_SCRIPT)},
    "file parameter": {"params": {"memory": "/tmp/cache"}},
    "lightgbm file alias": {"params": {"fs": "/etc/passwd"}},
    "lightgbm network parameter": {"params": {"workers": "10.0.0.9:12400", "num_machine": 2}},
    "infinite parameter": {"params": {"C": float("inf")}},
}


@pytest.mark.parametrize("name", sorted(HOSTILE_JOBS))
def test_the_training_process_refuses_a_hostile_job_before_importing(name, tmp_path, monkeypatch):
    from airflow_ml_provider.ml import train as train_module

    monkeypatch.chdir(tmp_path)
    job = entrypoint_job(tmp_path, **HOSTILE_JOBS[name])
    (tmp_path / "job.json").write_text(json.dumps(job))
    assert train_module.main(["--job", str(tmp_path / "job.json")]) == 2
    assert not (tmp_path / MARKER).exists()
    assert not (tmp_path / "result.json").exists()


def test_a_hostile_job_in_a_real_training_process(tmp_path):
    """python -m airflow_ml_provider.ml.train (its own process): one line, exit 2."""
    job = entrypoint_job(tmp_path, **HOSTILE_JOBS["custom transformer is a subprocess helper"])
    done = run_job(tmp_path, job)
    assert done.returncode == 2
    last = done.stderr.strip().splitlines()[-1]
    assert last.startswith("error: DisallowedCodeError: the job names code that is not allowed")
    assert "'_testing' is a private name" in last
    assert "Traceback" not in done.stderr
    assert not list(tmp_path.rglob(MARKER))


@pytest.mark.parametrize(
    "snippet, line, field",
    [
        (
            f"  custom:\n    - {{class: {CHECK_OUTPUT}, columns: [x], "
            f"params: {{args: [/bin/sh, -c, 'touch {MARKER}']}}}}\n",
            11,
            "features.custom[0].class",
        ),
        (f"  text: {{tokenizer: {RUN_SCRIPT}}}\n", 10, "features.text.tokenizer"),
    ],
    ids=["custom transformer check_output", "tokenizer run_python_script"],
)
def test_the_two_command_paths_are_refused_where_they_are_written(
    snippet, line, field, tmp_path, monkeypatch
):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "data.csv").write_text("x,note,label\n1,a,0\n2,b,1\n")
    path = tmp_path / "p.yaml"
    path.write_text(BASE.replace("features:\n", "features:\n" + snippet, 1))
    with pytest.raises(SpecError) as caught:
        load_pipeline(path)
    assert f"{path}:{line}:" in str(caught.value) and f": {field}: " in str(caught.value)
    assert not (tmp_path / MARKER).exists()


def test_check_refuses_a_split_that_leaves_too_few_rows(tmp_path):
    """A test_size the spec accepts but the data cannot honour (40 rows, 2 classes, 0.05:
    2 held-out rows) is refused by airflow-ml check at data.split.test_size, before a run
    would fail inside train_model."""
    from airflow_ml_provider.checks.data_checks import data_report

    (tmp_path / "data.csv").write_text(
        "x,note,label\n" + "".join(f"{i},w{i % 3},{i % 2}\n" for i in range(40))
    )
    path = tmp_path / "p.yaml"
    path.write_text(BASE.replace("test_size: 0.25", "test_size: 0.05"))
    problems = [str(p) for p in data_report(load_pipeline(path)).problems]
    assert problems == [
        f"{path}:8:22: data.split.test_size: test_size 0.05 of the 40 rows read leaves 2 "
        "held-out rows; at least 2 per class (4 for 2 class(es)) are needed on each side"
    ]
    path.write_text(BASE)
    assert data_report(load_pipeline(path)).problems == []
