"""What optional extras a pipeline needs (pipeline_spec/extras.py), from the fields that ask for
them — a remote source in any spelling of its scheme included. The dev environment has the
Google provider and not the Amazon one: an s3 source is refused at its line."""

from __future__ import annotations

import pytest

from airflow_ml_provider.pipeline_spec import SpecError, load_pipeline
from airflow_ml_provider.pipeline_spec.extras import needed_extras
from helpers.spec_files import GOOD, write


@pytest.mark.parametrize("source", ["GS://bucket/orders/*.parquet", "gcs://bucket/orders.csv"])
def test_a_google_source_needs_the_gcp_extra_whatever_the_spelling(tmp_path, source):
    text = GOOD.replace("source: data/churn.csv", f"source: {source}")
    assert source in text
    spec = load_pipeline(write(tmp_path, text)).spec
    assert [(where, e.name) for where, e, _ in needed_extras(spec)] == [(("data", "source"), "gcp")]


@pytest.mark.parametrize("source", ["S3://bucket/orders.csv", "s3a://bucket/orders.csv"])
def test_an_s3_source_without_the_aws_extra_is_refused_at_its_line(tmp_path, source):
    path = write(tmp_path, GOOD.replace("source: data/churn.csv", f"source: {source}"))
    with pytest.raises(SpecError) as caught:
        load_pipeline(path)
    assert str(caught.value) == (
        f"{path}:9:11: data.source: the source {source} needs Amazon S3 (s3://) support, "
        "which is not installed: pip install 'airflow-ml-provider[aws]'"
    )


def test_a_local_pipeline_needs_no_extra(tmp_path):
    assert needed_extras(load_pipeline(write(tmp_path, GOOD)).spec) == []
