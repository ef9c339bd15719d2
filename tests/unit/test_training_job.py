"""The training job's contract (core.training_job): typed, versioned, refused with reasons."""

from __future__ import annotations

import copy

import pytest

from airflow_ml_provider.core.training_job import (
    JOB_VERSION,
    JobError,
    TrainingJob,
    check_job,
    job_schema,
)
from helpers.training_jobs import job


def test_the_jobs_the_runners_write_follow_the_contract(tmp_path):
    payload = {**job(tmp_path), "version": JOB_VERSION}
    check_job(payload)
    assert TrainingJob.model_validate(payload).data.split.seed == 7
    check_job(job(tmp_path))  # written before versions existed: read as version 1


def test_a_broken_job_is_refused_field_by_field(tmp_path):
    payload = job(tmp_path)
    payload["estimatr"] = payload.pop("estimator")
    payload["data"]["split"]["test_size"] = 1.5
    del payload["task"]
    with pytest.raises(JobError) as raised:
        check_job(payload)
    message = str(raised.value)
    assert message.startswith("invalid training job: ")
    assert "task: Field required" in message
    assert "estimatr: Extra inputs are not permitted" in message
    assert "data.split.test_size: Input should be less than 1" in message


def test_a_job_names_one_trainer(tmp_path):
    both = {**job(tmp_path), "entrypoint": "acme_models.train:mlp"}
    with pytest.raises(JobError, match="give exactly one of estimator, entrypoint and image"):
        check_job(both)
    neither = {**job(tmp_path), "estimator": None}
    with pytest.raises(JobError, match="give exactly one of estimator, entrypoint and image"):
        check_job(neither)


def test_a_job_of_an_unknown_version_is_refused_with_the_reason(tmp_path):
    newer = copy.deepcopy(job(tmp_path))
    newer["version"] = JOB_VERSION + 1
    with pytest.raises(JobError, match=r"training job version 2: this airflow-ml-provider reads"):
        check_job(newer)


def test_the_published_schema_describes_the_job():
    schema = job_schema()
    assert schema["$id"] == f"urn:airflow-ml-provider:training-job:{JOB_VERSION}"
    assert {"task", "metrics", "data"} <= set(schema["required"])
    assert {"estimator", "entrypoint"} <= set(schema["properties"])
    split = schema["$defs"]["JobSplit"]["properties"]
    assert {"test_size", "seed", "stratify", "validation_size"} == set(split)
    assert schema["additionalProperties"] is False
