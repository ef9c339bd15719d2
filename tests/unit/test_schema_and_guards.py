"""Inferred schema, schema differences and the always-on guards, on real data."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pandas as pd
import pytest

from airflow_ml_provider.ml.data.guards import guard_findings
from airflow_ml_provider.ml.data.schema import diff_schemas, infer_schema


@pytest.fixture(scope="module")
def frame() -> pd.DataFrame:
    from sklearn.datasets import load_breast_cancer

    data = load_breast_cancer(as_frame=True).frame
    data["site"] = ["north", "south", "east"] * (len(data) // 3) + ["north"] * (len(data) % 3)
    return data


def checks_of(findings: list[dict]) -> list[tuple[str, str | None]]:
    return [(f["check"], f["column"]) for f in findings]


def test_inferred_schema_records_types_ranges_nulls_and_domains(frame):
    schema = infer_schema(frame)
    radius = schema["columns"]["mean radius"]
    assert radius["dtype"] == "float"
    assert radius["min"] == pytest.approx(frame["mean radius"].min())
    assert radius["max"] == pytest.approx(frame["mean radius"].max())
    assert radius["nullable"] is False
    assert schema["columns"]["target"]["dtype"] == "integer"
    assert schema["columns"]["site"]["domain"] == ["east", "north", "south"]
    assert schema["rows"] == len(frame)


def test_same_data_has_no_findings(frame):
    assert (
        diff_schemas(infer_schema(frame), infer_schema(frame.sample(frac=1, random_state=1))) == []
    )


def test_renamed_column_is_reported_by_name(frame):
    renamed = frame.rename(columns={"mean radius": "radius_mean"})
    findings = diff_schemas(infer_schema(frame), infer_schema(renamed))
    assert checks_of(findings) == [
        ("missing_column", "mean radius"),
        ("new_column", "radius_mean"),
    ]
    assert "renamed to 'radius_mean'?" in findings[0]["message"]


def test_dtype_change_is_reported_by_name(frame):
    changed = frame.assign(target=frame["target"].map({0: "benign", 1: "malignant"}))
    findings = diff_schemas(infer_schema(frame), infer_schema(changed))
    assert checks_of(findings) == [("dtype_change", "target")]
    assert "from integer to string" in findings[0]["message"]


def test_new_category_is_reported_by_name(frame):
    changed = frame.copy()
    changed.loc[:4, "site"] = "west"
    findings = diff_schemas(infer_schema(frame), infer_schema(changed))
    assert checks_of(findings) == [("new_category", "site")]
    assert "'west'" in findings[0]["message"]


def test_null_rate_jump_is_reported_and_small_changes_are_tolerated(frame):
    few, many = frame.copy(), frame.copy()
    few.loc[:9, "mean texture"] = None  # 1.8 % nulls: within the 5 % tolerance
    many.loc[:99, "mean texture"] = None  # 17.6 %
    baseline = infer_schema(frame)
    assert diff_schemas(baseline, infer_schema(few)) == []
    findings = diff_schemas(baseline, infer_schema(many))
    assert checks_of(findings) == [("null_rate", "mean texture")]
    assert "17.6% null (was 0.0%)" in findings[0]["message"]


def test_guards_pass_on_good_data(frame):
    assert guard_findings(frame, target="target", max_duplicate_share=0.1) == []


def test_empty_data_is_refused(frame):
    findings = guard_findings(frame.iloc[0:0], target="target", max_duplicate_share=0.1)
    assert checks_of(findings) == [("not_empty", None)]


def test_missing_or_all_null_target_is_refused(frame):
    missing = guard_findings(frame.drop(columns="target"), target="target", max_duplicate_share=1)
    assert checks_of(missing) == [("target_present", "target")]
    nulls = guard_findings(frame.assign(target=None), target="target", max_duplicate_share=1)
    assert checks_of(nulls) == [("target_not_null", "target")]


def test_duplicate_share_over_threshold_is_refused(frame):
    doubled = pd.concat([frame, frame.iloc[:100]])
    assert guard_findings(doubled, target="target", max_duplicate_share=0.2) == []
    findings = guard_findings(doubled, target="target", max_duplicate_share=0.1)
    assert checks_of(findings) == [("duplicate_rows", None)]
    assert "14.9% of rows are exact duplicates (allowed: 10.0%)" in findings[0]["message"]


def test_stale_data_is_refused_and_fresh_data_passes(frame):
    now = datetime(2026, 11, 22, 12, tzinfo=UTC)
    stamped = frame.assign(
        event_time=[now - timedelta(days=3, hours=i % 5) for i in range(len(frame))]
    )
    rule = {"column": "event_time", "max_age_seconds": timedelta(days=2).total_seconds()}
    stale = guard_findings(stamped, target="target", max_duplicate_share=1, freshness=rule, now=now)
    assert checks_of(stale) == [("freshness", "event_time")]
    assert "3d old (max_age 2d)" in stale[0]["message"]
    fresh_rule = {**rule, "max_age_seconds": timedelta(days=4).total_seconds()}
    fresh = guard_findings(
        stamped, target="target", max_duplicate_share=1, freshness=fresh_rule, now=now
    )
    assert fresh == []
    missing = guard_findings(frame, target="target", max_duplicate_share=1, freshness=rule, now=now)
    assert checks_of(missing) == [("freshness", "event_time")]


def test_a_classification_target_with_one_class_is_refused(frame):
    one_class = frame.assign(target=1)
    findings = guard_findings(
        one_class, target="target", max_duplicate_share=1.0, task="classification"
    )
    assert [f["check"] for f in findings] == ["target_classes"]
    assert "has one class only (1)" in findings[0]["message"]
    # A regression target may be constant in a slice of data without being refused here.
    assert guard_findings(one_class, target="target", max_duplicate_share=1.0) == []
