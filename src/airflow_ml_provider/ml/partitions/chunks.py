"""Per-partition training: plan the partitions, train a chunk of them, train the fallback.

* ``ml.partitions.plan`` (on the worker) decides which partitions are trainable and cuts
  them into chunks; each chunk becomes one parquet file and one mapped task.
* ``train_partitions`` (in the training process or pod, through ``ml.train``) fits one model
  per partition of its chunk, or the fallback model on the training rows, and writes them
  as skops files: one per process that fitted them (each process dumps its own models, so
  the dumping is spread as the fitting is). A partition that fails is reported with its
  error; the chunk goes on.

No Airflow imports: this runs inside the training pod.
"""

from __future__ import annotations

import time
import zipfile
from typing import Any

from airflow_ml_provider.core.contracts import PartitionChunk
from airflow_ml_provider.core.training_job import JobPartitions, TrainingJob
from airflow_ml_provider.ml.integrity.model_files import check_trusted_types, job_trust
from airflow_ml_provider.ml.integrity.skops_io import skops_io
from airflow_ml_provider.ml.partitioned import partition_key
from airflow_ml_provider.ml.partitions.answers import gathered, write_answers

HELDOUT = "__airflow_ml_heldout__"
"""Chunk files keep train and held-out rows together; this column says which is which."""
ROW = "__airflow_ml_row__"
"""Each chunk row's position in the snapshot, so held-out answers can be put in place."""
FALLBACK = "fallback"
TRAINED, SKIPPED, FAILED = "trained", "skipped", "failed"


def train_partitions(job: TrainingJob) -> PartitionChunk:
    """Train the chunk (or the fallback) described by ``job.partitions``; write the models
    as skops files named after its ``output`` and return one record per partition.

    ``model_files`` lists the files (each a dump of ``{partition key: model}``; one per
    process that fitted models), ``models_uri`` is the first (what older releases wrote)."""
    started = time.monotonic()
    spec = job.partition_section
    if spec.fallback:
        records, saved, answers = _train_fallback(job, spec)
    else:
        records, saved, answers = _train_chunk(job, spec)
    files = [uri for uri, _, _ in saved]
    trusted = sorted({name for _, trusted, _ in saved for name in trusted})
    # What every load of the router checks: refused here, before the router is logged.
    check_trusted_types(trusted, job_trust(job))
    result: PartitionChunk = {
        "chunk": spec.chunk,
        "models_uri": files[0] if files else None,
        "model_files": files,
        "file_partitions": [keys for _, _, keys in saved],
        "trusted_types": trusted,
        "partitions": records,
        "fit_seconds": sum(r.get("fit_seconds") or 0.0 for r in records),
        "seconds": time.monotonic() - started,
    }
    if answers is not None:
        result["answers_uri"] = write_answers(answers, spec.output)
        result["classes"] = answers.classes
    return result


def model_files(result: dict[str, Any]) -> list[str]:
    """The model files a training result wrote (one ``models_uri`` before ``model_files``)."""
    if result.get("model_files") is not None:
        return list(result["model_files"])
    return [result["models_uri"]] if result.get("models_uri") else []


def _fit_and_score(
    template, metrics, x_train, y_train, x_test, y_test
) -> tuple[Any, dict[str, Any], dict[str, Any]]:
    """Fit a clone of ``template`` (an unfitted preprocessing + estimator pipeline) on
    DataFrame rows and score it on its held-out rows, every metric from one prediction;
    return the model, its record and its answers for the held-out rows."""
    from sklearn.base import clone

    from airflow_ml_provider.ml.evaluation.scoring import ResponsesByPosition, score_where_defined
    from airflow_ml_provider.ml.training.runs import fit_warnings

    model = clone(template)
    started = time.monotonic()
    trouble: list[str] = []
    with fit_warnings(trouble, echo=False):
        model.fit(x_train, y_train)
    fit_seconds = time.monotonic() - started
    scores: dict[str, Any] = {}
    answers: dict[str, Any] = {}
    if len(x_test):
        responses = ResponsesByPosition(model, x_test)
        scores = score_where_defined(responses, responses.all_rows(), y_test, metrics)
        answers = responses.answers
    return (
        model,
        {
            "status": TRAINED,
            "rows_train": len(x_train),
            "rows_test": len(x_test),
            "fit_seconds": fit_seconds,
            "metrics": scores,
            **({"warning": trouble[0]} if trouble else {}),
        },
        answers,
    )


def _train_partitions_of(template, metrics, partitions) -> list[tuple[Any, dict, dict]]:
    """``(model or None, record, answers)`` per ``(key, x_train, y_train, x_test, y_test)``
    item, with one BLAS/OpenMP thread per fit: partitions are small, and a thread pool per
    tiny fit multiplied the CPU time by up to 12 on a busy machine. A partition that fails is
    recorded with its error; the others go on."""
    from threadpoolctl import threadpool_limits

    trained: list[tuple[Any, dict[str, Any], Any]] = []
    with threadpool_limits(limits=1):
        for key, x_train, y_train, x_test, y_test in partitions:
            try:
                model, record, answers = _fit_and_score(
                    template, metrics, x_train, y_train, x_test, y_test
                )
            except Exception as exc:  # one bad partition must not take the others down
                message = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
                trained.append(
                    (
                        None,
                        {
                            "partition": key,
                            "status": FAILED,
                            "reason": f"{type(exc).__name__}: {message}"[:500],
                            "rows_train": len(x_train),
                            "rows_test": len(x_test),
                        },
                        {},
                    )
                )
                continue
            trained.append((model, {"partition": key, **record}, answers))
    return trained


def _train_and_save(template, metrics, partitions, output: str):
    """Train ``partitions`` (see ``_train_partitions_of``) and dump the models to ``output``;
    return ``(records, [(key, classes, answers)], saved)`` — the models stay in this process
    (a worker's), only what the chunk reports goes back. ``saved`` lists ``(output, trusted
    types, partition keys in it)`` when a model was trained."""
    trained = _train_partitions_of(template, metrics, partitions)
    models = {record["partition"]: model for model, record, _ in trained if model is not None}
    answered = [
        (record["partition"], getattr(model, "classes_", None), answers)
        for model, record, answers in trained
        if answers
    ]
    saved = [(output, _write_models(models, output), list(models))] if models else []
    return [record for _, record, _ in trained], answered, saved


def _train_chunk(
    job: TrainingJob, spec: JobPartitions
) -> tuple[list[dict[str, Any]], list[tuple[str, list[str], list[str]]], Any]:
    """Fit each partition of the chunk on its rows of ``features`` (the router hands its
    sub-models those columns), over ``spec.processes`` processes (joblib's), each of
    which dumps the models it fitted to its own file. Column types are inferred once, on
    the chunk's train rows, so every partition of the chunk preprocesses its columns the
    same way."""
    from airflow_ml_provider.ml.data.dataset import read_frame
    from airflow_ml_provider.ml.features.preprocessing import build_pipeline, resolve_features

    frame = read_frame(spec.rows_uri, "parquet")
    x = frame[spec.features]
    y = frame[job.data.target].to_numpy()
    heldout = frame[HELDOUT].to_numpy()
    features = resolve_features(job, x[~heldout])
    template = build_pipeline(job, *features, x[~heldout], route_columns=False)
    groups = frame.groupby(spec.partition_by, sort=False, dropna=False).indices
    # Chunk files written by an older release have no row positions: no answers then.
    snapshot_rows = frame[ROW].to_numpy() if ROW in frame else None
    items, heldout_rows = [], {}
    for value, positions in groups.items():
        train, test = positions[~heldout[positions]], positions[heldout[positions]]
        key = partition_key(value)
        items.append((key, x.iloc[train], y[train], x.iloc[test], y[test]))
        heldout_rows[key] = test
    processes = min(spec.processes, len(items))
    if processes > 1:
        from joblib import Parallel, delayed

        stem = spec.output.rsplit(".", 1)[0]
        done = Parallel(n_jobs=processes)(
            delayed(_train_and_save)(
                template, job.metrics, items[start::processes], f"{stem}.part-{start}.skops"
            )
            for start in range(processes)
        )
    else:
        done = [_train_and_save(template, job.metrics, items, spec.output)]
    records = [record for share in done for record in share[0]]
    saved = [file for share in done for file in share[2]]
    trained = sum(record["status"] == TRAINED for record in records)
    print(
        f"chunk {spec.chunk}: {trained} of {len(records)} partitions trained "
        f"in {processes} process(es), fit {sum(r.get('fit_seconds') or 0 for r in records):.2f}s"
    )
    if snapshot_rows is None:
        return records, saved, None
    answered = [
        (snapshot_rows[heldout_rows[key]], classes, answers)
        for share in done
        for key, classes, answers in share[1]
    ]
    return records, saved, gathered(answered)


def _train_fallback(
    job: TrainingJob, spec: JobPartitions
) -> tuple[list[dict[str, Any]], list[tuple[str, list[str], list[str]]], Any]:
    """Fit the fallback model on the sub-models' columns of the train split — at most
    ``spec.max_rows`` of its rows — and answer every held-out row."""
    from airflow_ml_provider.ml.data.snapshot_reads import load_split
    from airflow_ml_provider.ml.features.preprocessing import build_pipeline, resolve_features

    # The sub-models' columns only: the fallback does not route, and reading the partition
    # column (often text) and the others would hold them all in memory for nothing.
    data = job.data.model_copy(update={"features": spec.features, "partition_by": None})
    split = load_split(data, job.task, max_train_rows=spec.max_rows)
    x_train, x_test = split.x_train, split.x_test
    model, record, answers = _fit_and_score(
        build_pipeline(job, *resolve_features(job, x_train), x_train, route_columns=False),
        job.metrics,
        x_train,
        split.y_train.to_numpy(),
        x_test,
        split.y_test.to_numpy(),
    )
    print(
        f"fallback model: fit {record['fit_seconds']:.2f}s on {len(x_train)} training rows "
        f"(at most {spec.max_rows or 'all'})"
    )
    # Answers in held-out order (the rows every step holds out, as load_split gives them).
    rows = list(range(len(x_test)))
    classes = getattr(model, "classes_", None)
    return (
        [{"partition": FALLBACK, **record}],
        [(spec.output, _write_models({FALLBACK: model}, spec.output), [FALLBACK])],
        gathered([(rows, classes, answers)] if answers else []),
    )


def _write_models(models: dict[str, Any], uri: str) -> list[str]:
    """Dump ``{key: model}`` with skops to ``uri``; return the types it needs to load."""
    from airflow_ml_provider.ml.data.dataset import write_bytes

    skops = skops_io()
    # Deflated: a chunk's file is mostly skops' JSON schema, ~9x smaller so (14.6 -> 1.6 MB
    # for 250 pipelines) for the artifact store and the router that holds unparsed files,
    # for ~0.1 s more per load; level 1 costs no measurable time at dump.
    data = skops.dumps(models, compression=zipfile.ZIP_DEFLATED, compresslevel=1)
    write_bytes(uri, data)
    return skops.get_untrusted_types(data=data)
