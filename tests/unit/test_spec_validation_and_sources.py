"""The YAML contract of sources, waiting, freshness, schema and drift: good files load into
what the operators take, bad ones are refused with file:line:column and what was expected."""

from __future__ import annotations

import pytest

from airflow_ml_provider.pipeline_spec import load_pipeline
from helpers.spec_files import GOOD, errors_of, write


def variant(old: str, new: str) -> str:
    assert old in GOOD, old
    return GOOD.replace(old, new)


def test_defaults_turn_on_inferred_schema_and_drift_as_a_reason_to_retrain(tmp_path):
    spec = load_pipeline(write(tmp_path, GOOD)).spec
    assert spec.validation.schema_ == "infer"
    assert spec.validation.on_failure == "fail"
    assert spec.validation.drift.method == "psi"
    assert spec.validation.drift.action == "retrain"
    assert spec.data.wait is None and spec.data.freshness is None


def test_string_source_is_files_and_globs_keep_their_characters(tmp_path):
    text = variant("source: data/churn.csv", "source: data/2026-*/part *.csv")
    loaded = load_pipeline(write(tmp_path, text))
    assert loaded.source == {
        "kind": "files",
        "uri": f"file://{tmp_path}/data/2026-*/part *.csv",
        "format": "csv",
    }


def test_sql_and_bigquery_sources_load_as_dicts(tmp_path):
    sql = variant(
        "source: data/churn.csv",
        "source: {kind: sql, conn_id: warehouse, query: SELECT * FROM churn,\n"
        "           change_query: SELECT max(updated_at) FROM churn}\n"
        "  wait: {timeout: 2h, poke_interval: 1m}",
    )
    loaded = load_pipeline(write(tmp_path, sql))
    assert loaded.source == {
        "kind": "sql",
        "conn_id": "warehouse",
        "query": "SELECT * FROM churn",
        "change_query": "SELECT max(updated_at) FROM churn",
    }
    assert loaded.spec.data.wait.timeout.total_seconds() == 7200
    assert loaded.spec.data.wait.mode == "deferrable"
    bigquery = variant("source: data/churn.csv", "source: {kind: bigquery, table: p.d.churn}")
    assert load_pipeline(write(tmp_path, bigquery)).source == {
        "kind": "bigquery",
        "table": "p.d.churn",
    }


def test_pinned_schema_resolves_next_to_the_yaml_file(tmp_path):
    text = variant("validation:\n", "validation:\n  schema: schemas/churn.yaml\n")
    loaded = load_pipeline(write(tmp_path, text))
    assert loaded.schema_uri == f"file://{tmp_path}/schemas/churn.yaml"


BAD = {
    "sql source without a query": (
        ("source: data/churn.csv", "source: {kind: sql, conn_id: warehouse}"),
        ":9:11: data.source: a sql source needs 'query'",
    ),
    "bigquery with table and query": (
        ("source: data/churn.csv", "source: {kind: bigquery, table: p.d.t, query: SELECT 1}"),
        ":9:11: data.source: a bigquery source needs exactly one of 'table' or 'query'",
    ),
    "a field of another source kind": (
        ("source: data/churn.csv", "source: {uri: data/churn.csv, table: p.d.t}"),
        ":9:40: data.source.table: 'table' does not apply to a files source",
    ),
    "unknown source kind": (
        ("source: data/churn.csv", "source: {kind: excel, uri: a.xlsx}"),
        ":9:18: data.source.kind: got 'excel'; input should be 'files', 'bigquery' or 'sql'",
    ),
    "format on a sql source": (
        (
            "source: data/churn.csv",
            "source: {kind: sql, conn_id: w, query: SELECT 1}\n  format: csv",
        ),
        ":10:11: data.format: a sql source is read as a table; remove format",
    ),
    "waiting on sql without change_query": (
        (
            "source: data/churn.csv",
            "source: {kind: sql, conn_id: w, query: SELECT 1}\n  wait: {timeout: 1h}",
        ),
        ":10:9: data.wait: waiting on a sql source needs data.source.change_query",
    ),
    "bad freshness age": (
        ("  target: churned", "  target: churned\n  freshness: {column: ts, max_age: soon}"),
        ":11:36: data.freshness.max_age: 'soon' is not a duration",
    ),
    "unknown drift action": (
        ("validation:\n", "validation:\n  drift: {action: stop}\n"),
        ":13:19: validation.drift.action: got 'stop'; input should be 'fail', 'warn' or 'retrain'",
    ),
    "misspelled drift key": (
        ("validation:\n", "validation:\n  drift: {treshold: 0.3}\n"),
        ":13:11: validation.drift.treshold: unknown key 'treshold'; did you mean 'threshold'?",
    ),
    "misspelled schema key": (
        ("validation:\n", "validation:\n  shema: infer\n"),
        ":13:3: validation.shema: unknown key 'shema'; did you mean 'schema'?",
    ),
    "bad on_failure": (
        ("validation:\n", "validation:\n  on_failure: ignore\n"),
        ":13:15: validation.on_failure: got 'ignore'; input should be 'fail' or 'warn'",
    ),
    "drifted share out of range": (
        ("validation:\n", "validation:\n  drift: {max_drifted_share: 1.5}\n"),
        ":13:30: validation.drift.max_drifted_share: input should be less than 1",
    ),
}


@pytest.mark.parametrize("case", sorted(BAD))
def test_bad_validation_and_source_config_is_refused(tmp_path, case):
    (old, new), expected = BAD[case]
    path = write(tmp_path, variant(old, new))
    message = errors_of(path)
    assert f"{path}{expected}" in message, message


def test_check_refuses_a_pinned_schema_that_does_not_exist(tmp_path):
    from airflow_ml_provider.checks.deep_checks import schema_problems
    from airflow_ml_provider.pipeline_spec.positions import load_positioned

    path = write(tmp_path, variant("validation:\n", "validation:\n  schema: reviewed.yaml\n"))
    loaded = load_pipeline(path)
    [problem] = schema_problems(loaded, load_positioned(path))
    assert str(problem) == (
        f"{path}:13:11: validation.schema: schema file file://{tmp_path}/reviewed.yaml "
        "does not exist"
    )
    (tmp_path / "reviewed.yaml").write_text("columns: {age: {dtype: integer}}\n")
    assert schema_problems(loaded, load_positioned(path)) == []
