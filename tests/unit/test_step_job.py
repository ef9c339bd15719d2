"""The step jobs' contract (core.step_job) and their entrypoint (python -m ...ml.step): a
pod's plan_partitions and assemble_model jobs are typed, versioned, refused with reasons;
the plan is the one the worker makes, an assembly without enough trained partitions stops
before it logs anything."""

from __future__ import annotations

import json
import subprocess
import sys

import pandas as pd
import pytest
from palmerpenguins import load_penguins

from airflow_ml_provider.core.step_job import PlanPartitionsJob, read_step_job
from airflow_ml_provider.core.training_job import JobError
from airflow_ml_provider.ml.partitions.chunks import HELDOUT, ROW
from helpers.training_jobs import job as training_job


def plan_job(tmp_path, **changes) -> dict:
    snapshot = tmp_path / "penguins.parquet"
    load_penguins().dropna(subset=["sex"]).to_parquet(snapshot)
    job = {
        "version": 1,
        "step": "plan_partitions",
        "snapshot": str(snapshot),
        "folder": str(tmp_path / "partitions" / "key"),
        "target": "sex",
        "partition_by": "island",
        "task": "classification",
        "split": {"test_size": 0.25, "seed": 7},
        "min_partition_rows": 20,
        "partitions_per_task": 2,
    }
    return {**job, **changes}


def test_a_job_is_refused_field_by_field_and_by_version(tmp_path):
    broken = plan_job(tmp_path, partitions_per_task=0, colour="red")
    del broken["target"]
    with pytest.raises(JobError) as raised:
        read_step_job(broken)
    message = str(raised.value)
    assert message.startswith("invalid plan_partitions job: ")
    assert "target: Field required" in message
    assert "colour: Extra inputs are not permitted" in message
    assert "partitions_per_task: Input should be greater than or equal to 1" in message
    with pytest.raises(JobError, match=r"plan_partitions job version 2: this .* reads version 1"):
        read_step_job(plan_job(tmp_path, version=2))
    every = "assemble_model, evaluate_model, plan_partitions, validate_data"
    with pytest.raises(JobError, match=f"names its step, one of {every}; got 'train'"):
        read_step_job(plan_job(tmp_path, step="train"))


def test_the_entrypoint_writes_the_plan_the_worker_would(tmp_path):
    """The pod's process (the real entrypoint, as a subprocess) and the in-process call make
    the same plan; the chunk files hold every training-eligible row once."""
    from airflow_ml_provider.ml.partitions.plan_files import write_plan

    job = plan_job(tmp_path, output=str(tmp_path / "result.json"))
    (tmp_path / "job.json").write_text(json.dumps(job))
    command = [sys.executable, "-m", "airflow_ml_provider.ml.step", "--job"]
    done = subprocess.run([*command, str(tmp_path / "job.json")], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    result = json.loads((tmp_path / "result.json").read_text())
    assert result["plan_file"] == f"{job['folder']}/plan.json"
    pod_plan = json.loads((tmp_path / "partitions" / "key" / "plan.json").read_text())
    assert result["chunks"] == len(pod_plan["chunks"]) == 2  # Biscoe, Dream | Torgersen
    assert pod_plan["trainable"] == 3 and pod_plan["skipped"] == []

    here = PlanPartitionsJob.model_validate({**job, "folder": str(tmp_path / "here")})
    assert write_plan(here) == pod_plan
    chunks = sorted((tmp_path / "partitions" / "key").glob("chunk-*.parquet"))
    rows = pd.concat(pd.read_parquet(chunk) for chunk in chunks)
    assert sorted(rows["island"].unique()) == ["Biscoe", "Dream", "Torgersen"]
    assert rows[ROW].is_unique and len(rows) == 333  # every row once, held-out ones flagged
    assert 0.2 < rows[HELDOUT].mean() < 0.3


def test_a_bad_job_fails_in_one_line_without_a_traceback(tmp_path):
    (tmp_path / "job.json").write_text(json.dumps(plan_job(tmp_path, version=7)))
    command = [sys.executable, "-m", "airflow_ml_provider.ml.step", "--job"]
    done = subprocess.run([*command, str(tmp_path / "job.json")], capture_output=True, text=True)
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [
        "error: JobError: plan_partitions job version 7: this airflow-ml-provider reads "
        "version 1 (a job written by a newer release; upgrade the package that runs it)"
    ]


def test_an_assembly_job_is_checked_like_the_training_job_it_carries(tmp_path):
    good = {"step": "assemble_model", "training": training_job(tmp_path), "inputs": "x.json"}
    assert read_step_job(good).training.estimator == "sklearn.linear_model.LogisticRegression"
    broken = {**good, "training": {**training_job(tmp_path), "metrics": ["roc_auc", 3]}}
    del broken["inputs"]
    with pytest.raises(JobError) as raised:
        read_step_job(broken)
    assert "inputs: Field required" in str(raised.value)
    assert "training.metrics.1: Input should be a valid string" in str(raised.value)
    assert str(raised.value).startswith("invalid assemble_model job: ")


def test_an_assembly_with_too_few_trained_partitions_fails_in_one_line(tmp_path):
    """The pod's process reads the plan and results from the inputs file and refuses before
    it opens an MLflow run: no partition of the plan's two chunks answered."""
    plan = {"partition_by": "island", "chunks": [["Biscoe"], ["Dream"]], "skipped": []}
    fallback = {"chunk": "fallback", "models_uri": str(tmp_path), "partitions": []}
    (tmp_path / "inputs.json").write_text(json.dumps({"plan": plan, "results": [fallback]}))
    job = {"step": "assemble_model", "training": training_job(tmp_path)}
    job["inputs"] = (tmp_path / "inputs.json").as_uri()
    (tmp_path / "job.json").write_text(json.dumps(job))
    command = [sys.executable, "-m", "airflow_ml_provider.ml.step", "--job"]
    done = subprocess.run([*command, str(tmp_path / "job.json")], capture_output=True, text=True)
    assert done.returncode == 2, done.stderr
    assert done.stderr.startswith(
        "error: PartitionTrainingFailed: 0 of 2 trainable partitions trained (success ratio "
        "0.000 < min_success_ratio 1.0)"
    )
    assert "Traceback" not in done.stderr
    assert not (tmp_path / "mlflow.db").exists()
