"""Partitioned training below the DAG: the YAML contract, the planner, a chunk with a
failing partition, min_success_ratio and the router model — real pandas and scikit-learn."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from airflow_ml_provider.pipeline_spec import load_pipeline
from helpers.spec_files import GOOD, errors_of, write
from helpers.training_jobs import typed_job

PARTITIONED = GOOD.replace(
    "  target: churned\n", "  target: churned\n  partition_by: region\n"
).replace(
    "  params: {n_estimators: 10}\n",
    "  params: {n_estimators: 10}\n"
    "  partitioning: {partitions_per_task: 20, max_parallel: 3, min_partition_rows: 40}\n",
)


def test_partitioned_pipeline_loads_with_its_settings(tmp_path):
    spec = load_pipeline(write(tmp_path, PARTITIONED)).spec
    assert spec.data.partition_by == "region"
    settings = spec.training.partitioning
    assert (settings.partitions_per_task, settings.max_parallel) == (20, 3)
    assert (settings.min_partition_rows, settings.min_success_ratio) == (40, 1.0)


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        (
            "  partition_by: region\n",
            "",
            ":18:17: training.partitioning: partitioning needs data.partition_by",
        ),
        (
            "  partition_by: region\n",
            "  partition_by: churned\n",
            ":11:17: data.partition_by: the target 'churned' cannot be the partition column",
        ),
        (
            "partitions_per_task: 20",
            "partitions_per_task: 0",
            ":19:39: training.partitioning.partitions_per_task: "
            "input should be greater than or equal to 1 (got 0)",
        ),
        (
            "min_partition_rows: 40}",
            "min_partition_rows: 40, min_success_ratio: 1.5}",
            "training.partitioning.min_success_ratio: "
            "input should be less than or equal to 1 (got 1.5)",
        ),
        (
            "min_partition_rows: 40}",
            "min_partition_rows: 40, processes_per_task: 0}",
            "training.partitioning.processes_per_task: "
            "input should be greater than or equal to 1 (got 0)",
        ),
        (
            "min_partition_rows: 40}",
            "min_partition_rows: 40, fallback: false}",
            "training.partitioning.fallback: false is not supported yet",
        ),
        (
            "  params: {n_estimators: 10}\n",
            "  params: {n_estimators: 10}\n  search: {method: grid, params: {max_depth: [3]}}\n",
            "training.search: search is not available with data.partition_by yet",
        ),
    ],
)
def test_bad_partition_settings_are_refused_at_the_field(tmp_path, old, new, expected):
    assert old in PARTITIONED
    message = errors_of(write(tmp_path, PARTITIONED.replace(old, new, 1)))
    assert expected in message, message


def regions(counts: dict[str, int], seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    frames = []
    for region, rows in counts.items():
        x = rng.normal(size=(rows, 2))
        label = (x[:, 0] > 0).astype(int)
        frames.append(pd.DataFrame(x, columns=["a", "b"]).assign(region=region, label=label))
    return pd.concat(frames, ignore_index=True)


PLAN_SETTINGS = {
    "target": "label",
    "features": None,
    "partition_by": "region",
    "split": {"test_size": 0.25, "seed": 1, "stratify": True},
    "task": "classification",
    "min_partition_rows": 30,
    "partitions_per_task": 2,
}


def plan_of(frame, **overrides):
    from airflow_ml_provider.ml.partitions.plan import plan_partitions

    return plan_partitions(frame, **{**PLAN_SETTINGS, **overrides})


def test_plan_skips_small_and_single_class_partitions_and_chunks_the_rest():
    from airflow_ml_provider.ml.data.dataset import split_frame

    frame = regions({"north": 200, "south": 120, "east": 100, "west": 100, "tiny": 12})
    frame.loc[frame.region == "west", "label"] = 1  # one class only
    plan, chunks = plan_of(frame)
    skipped = {r["partition"]: r["reason"] for r in plan["skipped"]}
    assert "fewer than min_partition_rows 30" in skipped["tiny"]
    assert skipped["west"] == "one class only in its training rows"
    assert plan["chunks"] == [["east", "north"], ["south"]]
    assert plan["features"] == ["a", "b"]
    chunks = dict(chunks)
    assert set(chunks[0]["region"]) == {"east", "north"} and len(chunks[0]) == 300
    # The held-out flag marks exactly the rows every other step holds out.
    held = split_frame(
        frame,
        target="label",
        features=None,
        test_size=0.25,
        seed=1,
        stratify=True,
        task="classification",
        partition_by="region",
    ).x_test
    flagged = chunks[0][chunks[0]["__airflow_ml_heldout__"]]
    expected = held[held.region.isin(["east", "north"])]
    assert sorted(flagged[["a", "b"]].itertuples(index=False)) == sorted(
        expected[["a", "b"]].itertuples(index=False)
    )


def chunk_job(tmp_path, frame) -> dict:
    plan, chunks = plan_of(frame, partitions_per_task=10)
    index, rows = next(chunks)
    rows.to_parquet(tmp_path / "chunk.parquet")
    return plan, {
        "estimator": "sklearn.linear_model.LogisticRegression",
        "params": {},
        "task": "classification",
        "metrics": ["accuracy", "roc_auc"],
        "allowed_estimator_modules": ["sklearn."],
        "data": {"target": "label"},
        "partitions": {
            "chunk": index,
            "uri": str(tmp_path / "chunk.parquet"),
            "partition_by": "region",
            "features": plan["features"],
            "output": str(tmp_path / "models" / "chunk-00000.skops"),
        },
    }


def test_a_failing_partition_is_reported_and_the_others_train(tmp_path):
    from airflow_ml_provider.ml.partitions.assembly import (
        PartitionTrainingFailed,
        check_success,
        partition_table,
    )
    from airflow_ml_provider.ml.partitions.chunks import train_partitions

    frame = regions({"north": 200, "south": 120, "east": 100})
    frame.loc[frame.index[frame.region == "east"][:5], "a"] = np.inf  # cannot be fitted
    plan, job = chunk_job(tmp_path, frame)
    result = train_partitions(typed_job(job))
    by_key = {r["partition"]: r for r in result["partitions"]}
    assert by_key["east"]["status"] == "failed"
    assert by_key["east"]["reason"].startswith("ValueError: Input X contains infinity")
    assert by_key["north"]["status"] == "trained"
    assert 0.8 < by_key["north"]["metrics"]["accuracy"] <= 1.0
    with zipfile.ZipFile(tmp_path / "models" / "chunk-00000.skops") as written:
        assert {info.compress_type for info in written.infolist()} == {zipfile.ZIP_DEFLATED}

    table = partition_table(plan, [result])
    assert check_success(table, 0.6)["success_ratio"] == pytest.approx(2 / 3)
    with pytest.raises(PartitionTrainingFailed) as caught:
        check_success(table, 0.9)
    assert "2 of 3 trainable partitions trained" in str(caught.value)
    assert "east: ValueError: Input X contains infinity" in str(caught.value)
    # A chunk whose task died reported nothing: its partitions count as failed.
    lost = partition_table(plan, [])
    assert {r["status"] for r in lost} == {"failed"}
    assert lost[0]["reason"] == "the training task of chunk 0 failed"


def test_partition_models_that_did_not_converge_are_one_run_warning(tmp_path):
    """LogisticRegression with one lbfgs iteration per partition: each partition's record
    carries scikit-learn's ConvergenceWarning (the metrics table's warning column) and the
    assembled run gets one warning line counting them, not one line per partition."""
    from airflow_ml_provider.ml.partitions.assembly import partition_table, partition_warnings
    from airflow_ml_provider.ml.partitions.chunks import train_partitions

    frame = regions({"north": 200, "south": 120, "east": 100})
    plan, job = chunk_job(tmp_path, frame)
    job["params"] = {"max_iter": 1}
    result = train_partitions(typed_job(job))
    records = result["partitions"]
    assert all(r["warning"].startswith("the model did not converge: lbfgs") for r in records)
    (line,) = partition_warnings(partition_table(plan, [result]))
    assert line.startswith("3 of 3 partition models: the model did not converge: lbfgs")
    job["params"] = {"max_iter": 500}
    converged = partition_table(plan, [train_partitions(typed_job(job))])
    assert partition_warnings(converged) == []


def test_each_partition_fits_with_one_blas_thread(tmp_path, monkeypatch):
    """Inside a chunk every fit sees one BLAS/OpenMP thread (threadpoolctl reads the real
    thread pools); outside the chunk the process's pools are as they were. The estimator's
    fit is wrapped to look at the pools and then fits as usual."""
    from sklearn.linear_model import LogisticRegression
    from threadpoolctl import threadpool_info

    from airflow_ml_provider.ml.partitions.chunks import train_partitions

    def threads() -> set[int]:
        return {pool["num_threads"] for pool in threadpool_info()}

    seen: list[set[int]] = []
    real_fit = LogisticRegression.fit

    def looking_fit(self, *args, **kwargs):
        seen.append(threads())
        return real_fit(self, *args, **kwargs)

    monkeypatch.setattr(LogisticRegression, "fit", looking_fit)
    before = threads()
    _, job = chunk_job(tmp_path, regions({"north": 200, "south": 120}))
    result = train_partitions(typed_job(job))
    assert [r["status"] for r in result["partitions"]] == ["trained", "trained"]
    assert seen == [{1}, {1}]
    assert threads() == before


def test_processes_per_task_fits_partitions_in_that_many_processes(tmp_path):
    """processes 2: the chunk's partitions are fitted in two worker processes (each fitted
    model says which; a non-scikit-learn class is wrapped in EncodedLabelClassifier), each
    of which dumps its own models to its own file, with the same records, answers and
    predictions as one process; all-numeric sub-models carry no ColumnTransformer."""
    import os

    from sklearn.compose import ColumnTransformer

    from airflow_ml_provider.ml.integrity.skops_io import skops_io
    from airflow_ml_provider.ml.partitions.chunks import model_files, train_partitions

    frame = regions({"north": 200, "south": 120, "east": 100, "west": 90})
    _, job = chunk_job(tmp_path, frame)
    job["estimator"] = "helpers.pid_estimator.ProcessRecordingLogisticRegression"
    job["allowed_estimator_modules"] = ["helpers."]
    outputs = {}
    for processes in (1, 2):
        job["partitions"] = {
            **job["partitions"],
            "processes": processes,
            "output": str(tmp_path / f"models-{processes}.skops"),
        }
        result = train_partitions(typed_job(job))
        files = {
            uri: skops_io().load(uri, trusted=result["trusted_types"])
            for uri in model_files(result)
        }
        outputs[processes] = (result, files)
    (alone, alone_files), (spread, spread_files) = outputs[1], outputs[2]
    assert list(alone_files) == [str(tmp_path / "models-1.skops")]
    (alone_models,) = alone_files.values()
    assert {m[-1].estimator_.fitted_in_pid_ for m in alone_models.values()} == {os.getpid()}
    assert len(spread_files) == 2
    pids = [{m[-1].estimator_.fitted_in_pid_ for m in f.values()} for f in spread_files.values()]
    assert all(len(p) == 1 for p in pids) and len(set.union(*pids) - {os.getpid()}) == 2
    spread_models = {key: m for models in spread_files.values() for key, m in models.items()}
    by_key = {r["partition"]: r for r in spread["partitions"]}
    for record in alone["partitions"]:
        assert by_key[record["partition"]]["metrics"] == record["metrics"]
    answers = [pd.read_parquet(r["answers_uri"]).sort_values("row") for r in (alone, spread)]
    pd.testing.assert_frame_equal(*(a.reset_index(drop=True) for a in answers))
    rows = frame[["a", "b"]]
    for key, model in alone_models.items():
        assert not isinstance(model.named_steps["preprocess"], ColumnTransformer)
        np.testing.assert_array_equal(
            model.predict_proba(rows), spread_models[key].predict_proba(rows)
        )


def test_router_routes_rows_aligns_classes_and_refuses_unroutable_rows():
    from sklearn.linear_model import LogisticRegression

    from airflow_ml_provider.ml.partitioned import PartitionedModel, UnroutableRows

    x = np.array([[0.0], [1.0], [2.0], [3.0]])
    two = LogisticRegression().fit(x, [0, 0, 1, 1])
    three = LogisticRegression().fit(x, [0, 1, 2, 2])
    router = PartitionedModel("region", ["a"], {"n": two, "7": three}, fallback=None)
    rows = pd.DataFrame({"a": [0.0, 3.0, 0.0], "region": ["n", 7.0, "n"]})
    assert list(router.classes_) == [0, 1, 2]
    proba = router.predict_proba(rows)
    np.testing.assert_allclose(proba[[0, 2], 2], 0.0)  # "n" never saw class 2
    np.testing.assert_allclose(proba[1], three.predict_proba([[3.0]])[0])
    assert list(router.predict(rows)) == [0, three.predict([[3.0]])[0], 0]
    with pytest.raises(UnroutableRows, match="no model for region = elsewhere"):
        router.predict(pd.DataFrame({"a": [1.0], "region": ["elsewhere"]}))


@pytest.mark.parametrize("task", ["classification", "regression"])
def test_partition_scores_equal_scoring_each_partition_on_its_own(task):
    from sklearn.linear_model import LinearRegression, LogisticRegression

    from airflow_ml_provider.ml.evaluation.evaluate import partition_scores
    from airflow_ml_provider.ml.evaluation.scoring import score

    frame = regions({"north": 80, "south": 60, "east": 40}, seed=4)
    metric = "roc_auc" if task == "classification" else "rmse"
    if task == "regression":
        frame["label"] = frame["a"] * 2 + frame["b"]
    model = (LogisticRegression() if task == "classification" else LinearRegression()).fit(
        frame[["a", "b"]], frame["label"]
    )
    scores = partition_scores(model, frame[["a", "b", "region"]], frame["label"], metric, "region")
    assert set(scores) == {"north", "south", "east"}
    for region, found in scores.items():
        rows = frame[frame.region == region]
        expected = score(model, rows[["a", "b"]], rows["label"], [metric])[metric]
        assert found == {"rows": len(rows), "value": pytest.approx(expected)}


def trained_router(tmp_path, frame, task: str, estimator: str, metric: str):
    """Train every chunk of ``frame`` and the fallback as the mapped tasks do; return the
    results, the fallback's, the held-out split and the router loaded from the files."""
    from airflow_ml_provider.ml.data.dataset import data_section
    from airflow_ml_provider.ml.data.snapshot_reads import load_split
    from airflow_ml_provider.ml.partitioned import load_partitioned_model
    from airflow_ml_provider.ml.partitions.assembly import _artifacts
    from airflow_ml_provider.ml.partitions.chunks import train_partitions

    frame.to_parquet(tmp_path / "data.parquet", index=False)
    plan, chunks = plan_of(frame, partitions_per_task=2, task=task)
    split = {"test_size": 0.25, "seed": 1, "stratify": task == "classification"}
    data = data_section(
        {"uri": str(tmp_path / "data.parquet"), "format": "parquet"},
        "label",
        None,
        split,
        "region",
    )
    job = {
        "estimator": estimator,
        "params": {},
        "task": task,
        "metrics": [metric],
        "allowed_estimator_modules": ["sklearn."],
        "data": data,
    }
    common = {"partition_by": "region", "features": plan["features"]}
    results = []
    for index, rows in chunks:
        rows.to_parquet(tmp_path / f"chunk-{index}.parquet")
        spec = {"chunk": index, "uri": str(tmp_path / f"chunk-{index}.parquet"), **common}
        output = str(tmp_path / f"chunk-{index}.skops")
        results.append(
            train_partitions(typed_job({**job, "partitions": {**spec, "output": output}}))
        )
    fallback = train_partitions(
        typed_job(
            job,
            partitions={
                "chunk": "fallback",
                "fallback": True,
                "output": str(tmp_path / "fallback.skops"),
                **common,
            },
        )
    )
    router = load_partitioned_model(
        router_config(results, fallback, task, common), _artifacts([*results, fallback], tmp_path)
    )
    return plan, results, fallback, load_split(data, task), router


def router_config(results, fallback, task: str, common: dict) -> dict:
    """The model_config assemble_model logs with the router."""
    trusted = sorted({t for r in [*results, fallback] for t in r["trusted_types"]})
    return {**common, "task": task, "trusted_types": trusted}


def test_the_router_parses_a_model_file_only_when_its_partitions_are_asked_for(tmp_path):
    """The logged router (index + one skops file per chunk) reads every file's bytes when it
    is loaded and parses a chunk's file the first time one of its partitions is predicted:
    with the other chunk's file unreadable, rows of the first chunk still predict and rows of
    the other fail parsing it. Its answers, classes and a deep copy's answers equal those of
    the router that loads every file at once (routers logged before the index), also once
    the files are gone (a verified copy is removed after loading). An index that puts a
    partition in the wrong file is named, not routed to the fallback."""
    import copy

    from airflow_ml_provider.ml.partitioned import (
        PARTITION_INDEX,
        ModelFileMismatch,
        load_partitioned_model,
    )
    from airflow_ml_provider.ml.partitions.assembly import _artifacts
    from airflow_ml_provider.ml.responses import responses

    frame = regions({"north": 200, "south": 160, "east": 120, "west": 120}, seed=4)
    plan, results, fallback, held, router = trained_router(
        tmp_path, frame, "classification", "sklearn.linear_model.LogisticRegression", "accuracy"
    )
    artifacts = _artifacts([*results, fallback], tmp_path)
    common = {"partition_by": "region", "features": plan["features"]}
    config = router_config(results, fallback, "classification", common)
    # Results of a release that did not say which partitions each file holds: no index.
    older = [{k: v for k, v in r.items() if k != "file_partitions"} for r in results]
    files_only = _artifacts([*older, fallback], tmp_path / "older")
    assert files_only == {k: v for k, v in artifacts.items() if k != PARTITION_INDEX}
    eager = load_partitioned_model(config, files_only)
    first, second = plan["chunks"]
    index = json.loads(Path(artifacts[PARTITION_INDEX]).read_text())
    assert {name: set(keys) for name, keys in index.items()} == {
        "chunk-00000": set(first),
        "chunk-00001": set(second),
    }
    rows_of = {key: held.x_test[held.x_test.region == key] for key in [*first, *second]}

    other = Path(artifacts["chunk-00001"])
    intact = other.read_bytes()
    other.write_bytes(b"not a skops file")
    half_readable = load_partitioned_model(config, artifacts)
    np.testing.assert_array_equal(
        half_readable.predict(rows_of[first[0]]), eager.predict(rows_of[first[0]])
    )
    with pytest.raises(Exception, match="zip file"):
        half_readable.predict(rows_of[second[0]])
    other.write_bytes(intact)

    wrong_index = tmp_path / "wrong_index.json"
    wrong_index.write_text(json.dumps({"chunk-00000": [*first, *second], "chunk-00001": []}))
    wrong = load_partitioned_model(config, {**artifacts, PARTITION_INDEX: str(wrong_index)})
    with pytest.raises(ModelFileMismatch, match=f"does not hold partition '{second[0]}'"):
        wrong.predict(rows_of[second[0]])

    router = load_partitioned_model(config, artifacts)
    for path in artifacts.values():
        Path(path).unlink()
    expected = responses(eager, held.x_test)
    for model in (router, copy.deepcopy(router)):
        given = responses(model, held.x_test)
        np.testing.assert_array_equal(given["predict"], expected["predict"])
        np.testing.assert_allclose(given["predict_proba"], expected["predict_proba"])
        assert list(model.classes_) == list(eager.classes_) == [0, 1]


def test_answers_recorded_in_training_are_what_the_saved_router_answers(tmp_path):
    """The router's held-out answers assembled from what each sub-model answered in
    training (its partition's held-out rows; the fallback's for a skipped partition) equal
    the answers of the router loaded from the saved files — three classes, one partition
    that never saw class 2, one skipped partition. A result without recorded answers (an
    older release) gives None: the caller then loads the router."""
    from airflow_ml_provider.ml.partitions.answers import router_answers
    from airflow_ml_provider.ml.responses import responses

    frame = regions({"north": 200, "south": 160, "east": 120, "tiny": 12}, seed=3)
    frame.loc[(frame.region != "north") & (frame.b > 0.8), "label"] = 2
    plan, results, fallback, held, router = trained_router(
        tmp_path, frame, "classification", "sklearn.linear_model.LogisticRegression", "accuracy"
    )
    assert [r["partition"] for r in plan["skipped"]] == ["tiny"]
    recorded, classes = router_answers(fallback, results, held.test_positions)
    expected = responses(router, held.x_test)
    assert list(classes) == list(router.classes_) == [0, 1, 2]
    np.testing.assert_array_equal(recorded["predict"], expected["predict"])
    np.testing.assert_allclose(recorded["predict_proba"], expected["predict_proba"])
    assert (held.x_test.region == "tiny").any()  # served by the fallback in both

    older = [{k: v for k, v in r.items() if k != "answers_uri"} for r in results]
    assert router_answers(fallback, older, held.test_positions) is None


def test_recorded_answers_of_a_regression_router_are_its_predictions(tmp_path):
    """Regression: predictions only, no classes; equal to the loaded router's."""
    from airflow_ml_provider.ml.partitions.answers import router_answers
    from airflow_ml_provider.ml.responses import responses

    frame = regions({"north": 200, "south": 160, "tiny": 12}, seed=5)
    frame["label"] = frame["a"] * np.where(frame.region == "north", 3.0, -1.0) + frame["b"]
    _, results, fallback, held, router = trained_router(
        tmp_path, frame, "regression", "sklearn.linear_model.Ridge", "rmse"
    )
    recorded, classes = router_answers(fallback, results, held.test_positions)
    assert classes is None and set(recorded) == {"predict"}
    np.testing.assert_allclose(recorded["predict"], responses(router, held.x_test)["predict"])


@pytest.mark.parametrize("data_format", ["parquet", "csv"])
def test_a_split_with_listed_features_reads_only_its_columns(tmp_path, data_format):
    """With data.features listed, load_split reads the features, the target, the partition
    and kept columns only (a wide table's other columns are neither decoded nor held); the
    rows are the same as splitting the whole file, and a listed column the file does not have
    is still named."""
    from airflow_ml_provider.ml.data.dataset import data_section, read_frame
    from airflow_ml_provider.ml.data.snapshot_reads import load_split

    frame = regions({"north": 120, "south": 80}, seed=2).assign(
        notes=lambda f: "free text " + f.index.astype(str), weight=1.0
    )
    path = tmp_path / f"data.{data_format}"
    frame.to_parquet(path, index=False) if data_format == "parquet" else frame.to_csv(
        path, index=False
    )
    read = read_frame(str(path), data_format, ["label", "b", "nope"])
    assert list(read.columns) == ["b", "label"]  # the file's order; absent ones skipped
    split = {"test_size": 0.25, "seed": 1, "stratify": True}
    snapshot = {"uri": str(path), "format": data_format}
    narrow = load_split(
        data_section(snapshot, "label", ["b"], split, "region"), "classification", keep=("weight",)
    )
    whole = load_split(data_section(snapshot, "label", None, split, "region"), "classification")
    assert list(narrow.x_train.columns) == ["b", "region"]
    assert list(narrow.kept_test.columns) == ["weight"]
    np.testing.assert_array_equal(narrow.test_positions, whole.test_positions)
    np.testing.assert_allclose(narrow.x_test["b"], whole.x_test["b"])
    with pytest.raises(ValueError, match="feature columns not in the data: nope"):
        load_split(data_section(snapshot, "label", ["b", "nope"], split), "classification")


def test_the_fallback_fits_on_a_bounded_stratified_sample_and_answers_every_heldout_row(
    tmp_path,
):
    """fallback_rows bounds the fallback's training rows (a seeded sample stratified by the
    label, the same on every run); every held-out row still gets its answer."""
    from airflow_ml_provider.ml.data.dataset import data_section
    from airflow_ml_provider.ml.data.snapshot_reads import load_split
    from airflow_ml_provider.ml.partitions.chunks import train_partitions

    frame = regions({"north": 3000, "south": 2000})
    frame.loc[frame.index % 5 == 0, "label"] = 2  # a third, rarer class
    frame.to_parquet(tmp_path / "data.parquet", index=False)
    split = {"test_size": 0.25, "seed": 1, "stratify": True}
    data = data_section(
        {"uri": str(tmp_path / "data.parquet"), "format": "parquet"}, "label", None, split, "region"
    )
    job = {
        "estimator": "sklearn.linear_model.LogisticRegression",
        "params": {},
        "task": "classification",
        "metrics": ["accuracy"],
        "allowed_estimator_modules": ["sklearn."],
        "data": data,
    }

    def fallback(max_rows, name):
        spec = {"chunk": "fallback", "fallback": True, "partition_by": "region"}
        spec |= {"features": ["a", "b"], "max_rows": max_rows, "output": str(tmp_path / name)}
        return train_partitions(typed_job({**job, "partitions": spec}))

    whole, bounded, again = (
        fallback(None, "whole.skops"),
        fallback(1000, "bounded.skops"),
        fallback(1000, "again.skops"),
    )
    held = load_split(data, "classification")
    assert whole["partitions"][0]["rows_train"] == len(held.x_train) == 3750
    assert bounded["partitions"][0]["rows_train"] == 1000
    assert bounded["partitions"][0]["metrics"] == again["partitions"][0]["metrics"]
    assert bounded["partitions"][0]["metrics"]["accuracy"] > 0.7
    for result in (whole, bounded):
        assert len(pd.read_parquet(result["answers_uri"])) == len(held.x_test) == 1250


def test_a_heldout_only_split_and_a_bounded_train_sample_keep_the_same_heldout_rows():
    """with_train=False gives the same held-out rows without the training rows (only their
    count); max_train_rows draws a seeded sample of the training rows, stratified by the
    label, and changes nothing held out."""
    from airflow_ml_provider.ml.data.dataset import split_frame

    frame = regions({"north": 3000, "south": 1000})
    frame.loc[frame.index % 10 == 0, "label"] = 2
    settings = {"target": "label", "features": None, "test_size": 0.25, "seed": 4}
    settings |= {"stratify": True, "task": "classification"}
    whole = split_frame(frame, **settings)
    heldout = split_frame(frame, **settings, with_train=False)
    sample = split_frame(frame, **settings, max_train_rows=600)
    again = split_frame(frame, **settings, max_train_rows=600)
    assert heldout.x_train is None  # only the labels of the training rows (the baseline)
    assert heldout.y_train.index.tolist() == whole.y_train.index.tolist()
    assert heldout.rows_train == whole.rows_train == len(whole.x_train) == 3000
    for split in (heldout, sample):
        np.testing.assert_array_equal(split.test_positions, whole.test_positions)
        pd.testing.assert_frame_equal(split.x_test, whole.x_test)
    assert sample.rows_train == len(sample.x_train) == 600
    assert set(sample.x_train.index) <= set(whole.x_train.index)
    pd.testing.assert_frame_equal(sample.x_train, again.x_train)
    shares = [s.y_train.value_counts(normalize=True).sort_index() for s in (whole, sample)]
    np.testing.assert_allclose(shares[0], shares[1], atol=0.01)


def test_streamed_chunk_files_hold_exactly_the_rows_of_the_in_memory_chunks(tmp_path):
    """The plan step streams the snapshot into chunk files (a few batches and chunk files at
    a time, never the whole table): each file holds the same rows, held-out flags and
    snapshot positions as cutting the frame in memory — here over 3 passes and 40 batches."""
    import pyarrow.parquet as pq

    from airflow_ml_provider.ml.partitions.plan import chunk_frames, plan_chunks, write_chunk_files

    counts = {f"r{i:02d}": 60 + 7 * i for i in range(12)} | {"tiny": 5}
    frame = regions(counts, seed=3)
    frame.loc[frame.sample(frac=0.08, random_state=0).index, "region"] = None  # a null partition
    snapshot = tmp_path / "data.parquet"
    frame.to_parquet(snapshot, row_group_size=500)
    settings = PLAN_SETTINGS
    source = pq.ParquetFile(snapshot)
    keys = source.read(columns=["region", "label"]).to_pandas(categories=["region"])
    plan, rows = plan_chunks(keys, source.schema_arrow.names, **settings)
    memory_plan, memory_rows = plan_chunks(
        frame[["region", "label"]], list(frame.columns), **settings
    )
    assert plan == memory_plan and "nan" in [k for chunk in plan["chunks"] for k in chunk]
    passes = []
    write_chunk_files(
        source,
        rows,
        lambda index: open(tmp_path / f"chunk-{index}.parquet", "wb"),  # noqa: SIM115 (closed by the writer)
        batch_rows=37,
        open_writers=3,
        flush_rows=50,
        progress=lambda done, total: passes.append((done, total)),
    )
    assert rows.chunks == 7 and passes == [(3, 7), (6, 7), (7, 7)]
    for index, expected in chunk_frames(frame, memory_rows):
        written = pd.read_parquet(tmp_path / f"chunk-{index}.parquet")
        assert list(written.columns) == list(expected.columns)
        pd.testing.assert_frame_equal(
            written.reset_index(drop=True), expected.reset_index(drop=True), check_dtype=False
        )
        assert len(
            pq.ParquetFile(tmp_path / f"chunk-{index}.parquet")
            .metadata.row_group(0)
            .to_dict()["columns"]
        ) == len(expected.columns)
