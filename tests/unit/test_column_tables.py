"""Validation read a column at a time (issue 35.2): the checks over a parquet snapshot read
column by column and row batch by row batch give the same summary, to the value, as the
checks over the whole DataFrame — guards, Great Expectations results, inferred schema, drift
report and drift profile — on real data (palmerpenguins: strings, missing values; breast
cancer: 30 floats), across many small row groups."""

from __future__ import annotations

from datetime import UTC, datetime

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from airflow_ml_provider.ml.data.checks import CheckOptions, check_frame
from airflow_ml_provider.ml.data.column_tables import FrameColumns, ParquetColumns
from airflow_ml_provider.ml.data.dataset import read_frame
from airflow_ml_provider.ml.data.expectations import columns_named
from airflow_ml_provider.ml.data.guards import guard_findings
from airflow_ml_provider.ml.data.row_hashes import table_row_hashes
from airflow_ml_provider.ml.drift.profile import profile_frame

PENGUIN_EXPECTATIONS = [
    {"expect_column_values_to_not_be_null": {"column": "sex"}},
    {"expect_column_values_to_be_between": {"column": "body_mass_g", "min_value": 3000}},
    {"expect_column_values_to_be_in_set": {"column": "island", "value_set": ["Biscoe"]}},
    {"expect_table_row_count_to_be_between": {"min_value": 10}},
]


def write_parquet(frame: pd.DataFrame, path, row_group_size: int) -> str:
    pq.write_table(
        pa.Table.from_pandas(frame, preserve_index=False), path, row_group_size=row_group_size
    )
    return str(path)


@pytest.fixture(scope="module")
def penguins() -> pd.DataFrame:
    from palmerpenguins import load_penguins

    frame = load_penguins()
    # A few exact duplicates far apart: the guard must find them across batches.
    return pd.concat([frame, frame.iloc[[0, 5, 300]]], ignore_index=True)


def test_penguins_summary_is_the_same_read_by_column(penguins, tmp_path):
    path = write_parquet(penguins, tmp_path / "penguins.parquet", row_group_size=40)
    whole = read_frame(path, "parquet")
    baseline = profile_frame(whole.iloc[:150])
    options = CheckOptions(
        target="species",
        task="classification",
        expectations=PENGUIN_EXPECTATIONS,
        drift={"method": "psi"},
        keep_profile=True,
    )
    by_frame = check_frame(whole, options, drift_baseline=baseline)
    by_column = check_frame(ParquetColumns(path), options, drift_baseline=baseline)

    assert by_column == by_frame
    # The comparison is of real findings, not of two empty summaries.
    assert {entry["column"] for entry in by_column["failed_expectations"]} == {
        "sex",
        "body_mass_g",
        "island",
    }
    assert by_column["drift"]["drifted_columns"]  # the first 150 rows are mostly Adelie
    assert by_column["profile"] == profile_frame(whole)
    assert by_column["schema"]["inferred"]["columns"]["island"]["domain"] == [
        "Biscoe",
        "Dream",
        "Torgersen",
    ]


def test_an_open_stream_is_read_one_column_at_a_time_too(penguins, tmp_path):
    path = write_parquet(penguins, tmp_path / "penguins.parquet", row_group_size=100)
    options = CheckOptions(target="species", expectations=PENGUIN_EXPECTATIONS)
    with open(path, "rb") as stream:
        table = ParquetColumns(stream)
        assert table.parallel is False
        by_stream = check_frame(table, options)
    assert by_stream == check_frame(read_frame(path, "parquet"), options)


def test_guards_agree_on_duplicates_target_and_freshness(tmp_path):
    from sklearn.datasets import load_breast_cancer

    frame = load_breast_cancer(as_frame=True).frame
    frame = pd.concat([frame, frame.iloc[:80]], ignore_index=True)  # 80 of 649 repeat
    frame["seen"] = pd.Timestamp("2026-01-01", tz="UTC")
    path = write_parquet(frame, tmp_path / "cancer.parquet", row_group_size=64)
    settings = {
        "target": "target",
        "max_duplicate_share": 0.05,
        "freshness": {"column": "seen", "max_age_seconds": 3600},
        "now": datetime(2026, 2, 1, tzinfo=UTC),
        "task": "classification",
    }
    whole = read_frame(path, "parquet")
    found = guard_findings(whole, **settings)
    assert [f["check"] for f in found] == ["duplicate_rows", "freshness"]
    assert check_frame(ParquetColumns(path), CheckOptions(**settings))["guards"] == found
    share = table_row_hashes(FrameColumns(whole)).duplicate_share()
    assert share == pytest.approx(whole.duplicated().mean())


def test_great_expectations_gets_only_the_columns_it_names():
    names = ["species", "island", "sex", "body_mass_g"]
    assert columns_named(PENGUIN_EXPECTATIONS, names) == ["island", "sex", "body_mass_g"]
    pair = [
        {"expect_column_pair_values_a_to_be_greater_than_b": {"column_A": "x", "column_B": "y"}}
    ]
    assert columns_named(pair, ["y", "z", "x"]) == ["y", "x"]
    assert columns_named([{"expect_table_row_count_to_be_between": {"min_value": 1}}], names) == []
    # Expectations that look at the whole table, or filter rows, get every column.
    columns_listed = [{"expect_table_columns_to_match_set": {"column_set": ["species"]}}]
    assert columns_named(columns_listed, names) == names
    filtered = [
        {
            "expect_column_values_to_not_be_null": {
                "column": "sex",
                "row_condition": 'island=="Biscoe"',
                "condition_parser": "pandas",
            }
        }
    ]
    assert columns_named(filtered, names) == names


def test_a_table_expectation_over_no_columns_counts_the_rows(penguins):
    options = CheckOptions(
        expectations=[{"expect_table_row_count_to_be_between": {"max_value": 10}}]
    )
    summary = check_frame(FrameColumns(penguins), options)
    assert summary["failed_expectations"][0]["observed_value"] == len(penguins)


def test_rows_with_values_swapped_between_columns_are_not_duplicates():
    frame = pd.DataFrame({"home": ["a", "b", "a"], "away": ["b", "a", "b"]})
    assert table_row_hashes(FrameColumns(frame)).duplicate_share() == pytest.approx(1 / 3)
