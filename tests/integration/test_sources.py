"""Data sources and snapshot_data on real parts: local files read through ObjectStoragePath,
real parquet written by pyarrow, a real SQLite database behind an Airflow connection.
BigQuery is the one stand-in (see its test)."""

from __future__ import annotations

import os
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest


def hook(source):
    from airflow_ml_provider.hooks.data import DataSourceHook

    return DataSourceHook(source)


def snapshot(source, store: Path, pipeline: str = "p", **kwargs) -> dict:
    from airflow_ml_provider.operators.snapshot import SnapshotDataOperator

    operator = SnapshotDataOperator(
        task_id="snapshot_data",
        source=source,
        pipeline=pipeline,
        artifact_store=store.as_uri(),
        **kwargs,
    )
    return operator.execute(context={})


def read(uri: str):
    from airflow_ml_provider.ml.data import read_frame

    return read_frame(uri, "parquet")


def write(path: Path, text: str, mtime: float | None = None) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    if mtime is not None:
        os.utime(path, (mtime, mtime))
    return path


def test_single_csv_snapshot_is_parquet_under_its_hash(tmp_path):
    from airflow_ml_provider.operators.snapshot import last_snapshot

    csv = write(tmp_path / "in" / "data.csv", "x,label,name\n1,0,a\n2,1,\n3,1,c\n", 1_700_000_000)
    store = tmp_path / "store"
    result = snapshot(csv.as_uri(), store, data_format="csv")

    assert result["format"] == "parquet"
    assert result["rows"] == 3
    assert result["columns"] == ["x", "label", "name"]
    assert result["reused"] is False
    assert result["source"] == f"{csv.as_uri()} (1 file)"
    assert result["source_changed_at"] == 1_700_000_000
    expected = store / "snapshots" / "p" / result["sha256"][:16] / "data.parquet"
    assert result["uri"] == expected.as_uri()
    assert result["bytes"] == expected.stat().st_size
    frame = read(result["uri"])
    assert frame["x"].tolist() == [1, 2, 3]
    assert frame["name"].isna().tolist() == [False, True, False]  # empty string is missing
    assert last_snapshot(store.as_uri(), "p") == result
    assert last_snapshot(store.as_uri(), "other") is None
    leftovers = [p.name for p in (store / "snapshots" / "p").iterdir() if p.name.startswith(".")]
    assert leftovers == []


def test_glob_of_csvs_is_concatenated_by_name_with_a_file_name_column(tmp_path):
    write(tmp_path / "in" / "day2.csv", "x,y\n3,0.5\n", 1_700_000_200)
    write(tmp_path / "in" / "day1.csv", "x,y\n1,\n2,\n", 1_700_000_100)  # y all empty here
    write(tmp_path / "in" / "notes.txt", "not data")
    source = {
        "kind": "files",
        "uri": f"file://{tmp_path}/in/day*.csv",
        "file_name_column": "source_file",
    }
    result = snapshot(source, tmp_path / "store")
    frame = read(result["uri"])
    assert frame["source_file"].tolist() == ["day1.csv", "day1.csv", "day2.csv"]
    assert frame["x"].tolist() == [1, 2, 3]
    assert frame["y"].isna().tolist() == [True, True, False]  # typed from the later file
    assert result["source"].endswith("/in/day*.csv (2 files)")
    assert result["source_changed_at"] == 1_700_000_200
    assert hook(source).latest_change() == 1_700_000_200


def test_parquet_prefix_reads_every_parquet_file_below_it(tmp_path):
    root = tmp_path / "lake"
    (root / "2026" / "01").mkdir(parents=True)
    pq.write_table(pa.table({"x": [1, 2], "y": ["a", "b"]}), root / "2026" / "01" / "a.parquet")
    pq.write_table(pa.table({"y": ["c"], "x": [3]}), root / "2026" / "b.parquet")  # column order
    write(root / "_SUCCESS", "")
    write(root / "readme.md", "# not data")
    source = {"uri": f"file://{root}/", "file_name_column": "part"}
    written = hook(source).write_parquet(str(tmp_path / "out.parquet"))
    assert written["rows"] == 3
    assert [Path(f).name for f in written["files"]] == ["a.parquet", "b.parquet"]
    frame = pq.read_table(tmp_path / "out.parquet").to_pandas()
    assert frame.to_dict("list") == {
        "x": [1, 2, 3],
        "y": ["a", "b", "c"],
        "part": ["2026/01/a.parquet", "2026/01/a.parquet", "2026/b.parquet"],
    }


def test_incompatible_csv_names_the_file_and_the_column(tmp_path):
    from airflow_ml_provider.hooks.data import DataSourceError

    write(tmp_path / "in" / "a.csv", "id,amount\n1,10\n")
    write(tmp_path / "in" / "b.csv", "id,amount\n2,ten\n")
    with pytest.raises(DataSourceError) as error:
        snapshot(f"file://{tmp_path}/in/*.csv", tmp_path / "store")
    message = str(error.value)
    assert "b.csv" in message and "column 'amount'" in message and "ten" in message
    assert not list((tmp_path / "store" / "snapshots" / "p").iterdir())  # partial removed


def test_incompatible_parquet_names_the_file_and_the_column(tmp_path):
    from airflow_ml_provider.hooks.data import DataSourceError

    pq.write_table(pa.table({"id": [1], "when": ["x"]}), tmp_path / "a.parquet")
    pq.write_table(pa.table({"id": [2], "when": [[1, 2]]}), tmp_path / "b.parquet")
    pq.write_table(pa.table({"id": [3]}), tmp_path / "c.parquet")
    with pytest.raises(DataSourceError, match=r"b\.parquet: column 'when' is list<"):
        hook(f"file://{tmp_path}/[ab].parquet").write_parquet(str(tmp_path / "o1.parquet"))
    with pytest.raises(DataSourceError, match=r"c\.parquet: column 'when' is missing"):
        hook(f"file://{tmp_path}/[ac].parquet").write_parquet(str(tmp_path / "o2.parquet"))


@pytest.mark.parametrize(
    ("files", "uri", "problem"),
    [
        ({}, "in/*.csv", r"in/\*\.csv matches no file"),
        ({}, "in/", r"in/ matches no file"),
        ({"in/a.csv": "x\n1\n", "in/b.csv": ""}, "in/*.csv", r"b\.csv is empty \(0 bytes\)"),
        ({"in/a.csv": "x,y\n"}, "in/a.csv", r"in/a\.csv \(1 file\) has 0 rows"),
    ],
    ids=["no-match", "empty-prefix", "zero-bytes", "zero-rows"],
)
def test_empty_sources_are_refused_naming_the_source(tmp_path, files, uri, problem):
    from airflow_ml_provider.hooks.data import DataSourceError

    for name, text in files.items():
        write(tmp_path / name, text)
    (tmp_path / "in").mkdir(exist_ok=True)
    with pytest.raises(DataSourceError, match=problem):
        snapshot({"uri": f"file://{tmp_path}/{uri}", "format": "csv"}, tmp_path / "store")
    assert last_record(tmp_path / "store") is None


def last_record(store: Path):
    from airflow_ml_provider.operators.snapshot import last_snapshot

    return last_snapshot(store.as_uri(), "p")


def test_identical_input_gives_the_same_snapshot_and_is_reused(tmp_path):
    data = tmp_path / "in" / "data.csv"
    write(data, "x,y\n1,a\n2,b\n", 1_700_000_000)
    store = tmp_path / "store"
    first = snapshot(str(data), store)  # a bare local path works too
    write(data, "x,y\n1,a\n2,b\n", 1_700_000_500)  # same bytes, touched later
    second = snapshot(str(data), store)
    assert second["uri"] == first["uri"] and second["sha256"] == first["sha256"]
    assert (first["reused"], second["reused"]) == (False, True)
    assert last_record(store)["source_changed_at"] == 1_700_000_500
    # pyarrow writes byte-identical parquet for identical input
    a, b = tmp_path / "a.parquet", tmp_path / "b.parquet"
    hook(str(data)).write_parquet(str(a))
    hook(str(data)).write_parquet(str(b))
    assert a.read_bytes() == b.read_bytes()
    write(data, "x,y\n1,a\n2,c\n")
    third = snapshot(str(data), store)
    assert third["uri"] != first["uri"] and third["reused"] is False
    assert len([p for p in (store / "snapshots" / "p").iterdir() if p.is_dir()]) == 2
