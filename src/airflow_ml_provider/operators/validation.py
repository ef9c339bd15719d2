"""validate_data: guards, Great Expectations 1.x, the inferred or pinned schema, and drift."""

from __future__ import annotations

import json
import tempfile
from typing import Any, Literal, cast

from airflow.sdk import BaseOperator, ObjectStoragePath
from airflow.sdk.exceptions import AirflowFailException

from airflow_ml_provider.core.connections import MLFLOW_CONN_ID
from airflow_ml_provider.core.contracts import Snapshot, Validation
from airflow_ml_provider.core.step_job import ValidateDataJob
from airflow_ml_provider.operators.links import DataDocsLink, record_link
from airflow_ml_provider.settings import data_docs_url
from airflow_ml_provider.storage.drift_baseline import profile_path
from airflow_ml_provider.storage.schemas import SchemaStore, load_pinned_schema

INFER = "infer"
DRIFT_ACTIONS = ("fail", "warn", "retrain")


class ValidateDataOperator(BaseOperator):
    """Validate a dataset snapshot before anything trains on it.

    Four layers, reported together:

    * always-on guards, which fail the task whatever ``on_failure`` says: no rows, target
      column missing or all null, exact-duplicate rows over ``max_duplicate_share``, and,
      with ``freshness={"column", "max_age_seconds"}``, data older than allowed;
    * ``expectations`` (``[{expectation_name: {kwargs}}]``) run by Great Expectations, which
      also renders Data Docs (HTML) stored next to the snapshot (extra link "Data Docs");
    * the schema: with ``schema="infer"`` the first passing run stores the inferred schema
      (columns, dtypes, nullability, ranges, categorical domains) as version 1 in the
      artifact store and later runs are compared with the newest version; ``schema`` may
      also be the URI of a reviewed (pinned) schema file, or None to skip;
    * drift (``drift``: keyword arguments of ``ml.drift.detection.drift_report`` plus ``action``)
      against the data that trained the current ``champion`` of ``model_name`` (found
      through the ``airflow_ml.data_uri`` tag of its MLflow run), or ``drift_baseline_uri``
      (a data file, or a drift profile ``.json``). Each validated snapshot keeps its compact
      drift profile beside it (``profile.json``), so later runs read that, not the old data.

    Failed expectations and schema changes fail the task when ``on_failure="fail"`` and are
    warnings with ``on_failure="warn"``. Drift fails, warns or is recorded as the reason to
    retrain, as its ``action`` says. The full result is written next to the snapshot
    (``validation/<run_id>.json``), pushed as XCom ``validation`` (also on failure) and
    returned.

    :param snapshot: snapshot_data's result (a Snapshot; templated, usually an XComArg).
    :param expectations: Great Expectations expectations, ``[{name: {kwargs}}]``.
    :param target: the label column (guards: present, not all null, more than one class).
    :param columns: the columns the pipeline uses (every column when None).
    :param schema: ``"infer"``, the URI of a pinned schema file, or None to skip the layer.
    :param pipeline: the pipeline id (where inferred schema versions are kept).
    :param artifact_store: where results and schemas go; ``[ml_provider] artifact_store``
        when None.
    :param max_duplicate_share: the share of exact-duplicate rows that fails the guard.
    :param max_null_rate_increase: how much a column's null rate may grow over the schema's.
    :param data_docs: render Great Expectations Data Docs (the "Data Docs" link); False
        skips the rendering.
    :param freshness: ``{"column", "max_age_seconds"}``: the newest row must be this recent.
    :param drift: drift options (``ml.drift.detection.drift_report`` keywords plus ``action``),
        or None.
    :param model_name: the registered model whose champion's data is the drift baseline.
    :param mlflow_conn_id: the MLflow connection (the embedded store when it does not exist).
    :param drift_baseline_uri: a data file or drift profile to compare with instead
        (templated).
    :param on_failure: ``fail`` or ``warn`` on failed expectations and schema changes.
    :param task: ``classification`` or ``regression`` (the one-class target guard).
    """

    template_fields: tuple[str, ...] = ("snapshot", "drift_baseline_uri")
    operator_extra_links = (DataDocsLink(),)
    ui_color = "#fdf3e1"

    def __init__(
        self,
        *,
        snapshot: Snapshot | Any,
        expectations: list[dict[str, dict[str, Any]]] | None = None,
        target: str | None = None,
        columns: list[str] | None = None,
        schema: str | None = INFER,
        pipeline: str | None = None,
        artifact_store: str | None = None,
        max_duplicate_share: float = 0.1,
        max_null_rate_increase: float = 0.05,
        data_docs: bool = True,
        freshness: dict[str, Any] | None = None,
        drift: dict[str, Any] | None = None,
        model_name: str | None = None,
        mlflow_conn_id: str = MLFLOW_CONN_ID,
        drift_baseline_uri: str | None = None,
        on_failure: Literal["fail", "warn"] = "fail",
        task: str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.task = task
        if on_failure not in ("fail", "warn"):
            raise ValueError(f"on_failure must be 'fail' or 'warn', got {on_failure!r}")
        drift = dict(drift) if drift is not None else None
        self.drift_action = (drift or {}).pop("action", "retrain")
        if self.drift_action not in DRIFT_ACTIONS:
            raise ValueError(
                f"drift action must be one of {DRIFT_ACTIONS}, got {self.drift_action!r}"
            )
        self.snapshot = snapshot
        self.expectations = expectations or []
        self.target = target
        self.columns = columns
        self.schema = schema
        self.pipeline = pipeline
        self.artifact_store = artifact_store
        self.max_duplicate_share = max_duplicate_share
        self.max_null_rate_increase = max_null_rate_increase
        self.data_docs = data_docs
        self.freshness = freshness
        self.drift = drift
        self.model_name = model_name
        self.mlflow_conn_id = mlflow_conn_id
        self.drift_baseline_uri = drift_baseline_uri
        self.on_failure = on_failure

    def execute(self, context) -> Validation:
        from airflow_ml_provider.ml.data.checks import check_frame
        from airflow_ml_provider.ml.data.validate_step import check_options
        from airflow_ml_provider.storage.drift_baseline import read_baseline
        from airflow_ml_provider.storage.frames import stored_columns

        job = self.validate_job(context)
        baseline_uri, baseline = read_baseline(job.drift_baseline_uri, job.drift_baseline_format)
        with (
            tempfile.TemporaryDirectory(prefix="airflow-ml-docs-") as docs_dir,
            stored_columns(self.snapshot["uri"], self.snapshot["format"]) as table,
        ):
            summary = check_frame(
                table,
                check_options(job, docs_dir),
                schema_baseline=job.schema_baseline,
                drift_baseline=baseline,
            )
            index = summary.pop("data_docs_index")
            summary["data_docs_uri"] = self._store_data_docs(context, index, docs_dir)
        profile = summary.pop("profile")
        if profile is not None and job.profile_file:
            # Kept so that, when a model trained on this data becomes champion, later runs
            # compare against the profile, not the whole data.
            ObjectStoragePath(job.profile_file).write_text(json.dumps(profile, allow_nan=False))
        summary["baselines"] = {
            "schema_version": job.schema_version,
            "schema_uri": job.schema_uri,
            "drift_baseline_uri": baseline_uri,
        }
        return self.decide(context, summary)

    def validate_job(self, context) -> ValidateDataJob:
        """The checks as a step job, with the baselines looked up (the schema store, the
        champion's training data in MLflow) but not read."""
        from airflow_ml_provider.storage.drift_baseline import baseline_source

        schema_version, schema_uri, schema_baseline = self._schema_baseline(context)
        baseline_uri, baseline_format = None, "parquet"
        if self.drift is not None:
            baseline_uri, baseline_format = baseline_source(
                self.model_name, self.mlflow_conn_id, self.drift_baseline_uri
            )
        # Snapshots are content-addressed: same data, same profile, kept once.
        profile_file = profile_path(self.snapshot["uri"]) if self.drift is not None else None
        return ValidateDataJob(
            snapshot=dict(self.snapshot),
            target=self.target,
            task=self.task,
            expectations=self.expectations,
            max_duplicate_share=self.max_duplicate_share,
            max_null_rate_increase=self.max_null_rate_increase,
            freshness=self.freshness,
            drift=None if self.drift is None else {**self.drift, "columns": self.columns},
            schema_baseline=schema_baseline,
            schema_version=schema_version,
            schema_uri=schema_uri,
            drift_baseline_uri=baseline_uri,
            drift_baseline_format=baseline_format,
            docs_folder=str(self._data_docs_folder(context)) if self.data_docs else None,
            profile_file=str(profile_file) if profile_file and not profile_file.exists() else None,
        )

    def decide(self, context, summary: dict[str, Any]) -> Validation:
        """The checks' summary (with its ``baselines``) completed, reported and decided:
        the task fails when a guard, an expectation or the schema says so."""
        baselines = summary.pop("baselines")
        if summary["schema"] is not None:
            if self.schema is None:
                summary["schema"] = None
            else:
                summary["schema"].update(
                    mode=INFER if self.schema == INFER else "pinned",
                    baseline_version=baselines["schema_version"],
                    baseline_uri=baselines["schema_uri"],
                )
        if summary["drift"] is not None:
            summary["drift"].update(
                action=self.drift_action, baseline_uri=baselines["drift_baseline_uri"]
            )
        elif self.drift is not None:
            summary["drift_skipped"] = "no champion training data to compare with yet"
        return self._conclude(context, summary)

    def get_openlineage_facets_on_complete(self, task_instance):
        """OpenLineage: the snapshot in, each expectation's result as an assertion on it
        (also when validation failed: the summary is pushed before the task fails)."""
        from airflow_ml_provider.operators import lineage

        validation, _ = lineage.kept(self)
        return lineage.operator_lineage([lineage.validated_dataset(self.snapshot, validation)], [])

    # -- baselines ---------------------------------------------------------------------

    def _schema_store(self, context) -> SchemaStore:
        from airflow_ml_provider import settings

        return SchemaStore(
            self.artifact_store or settings.artifact_store(),
            self.pipeline or context["dag"].dag_id,
        )

    def _schema_baseline(self, context) -> tuple[int | None, str | None, dict[str, Any] | None]:
        if self.schema is None:
            return None, None, None
        if self.schema != INFER:
            return None, self.schema, load_pinned_schema(self.schema)
        latest = self._schema_store(context).latest()
        return latest if latest else (None, None, None)

    # -- outputs -----------------------------------------------------------------------

    def _data_docs_folder(self, context) -> ObjectStoragePath:
        return _snapshot_folder(self.snapshot) / "data_docs" / _safe(context["run_id"])

    def _store_data_docs(self, context, index: str | None, docs_dir: str) -> str | None:
        """Copy the rendered Data Docs next to the snapshot; return the index.html URI."""
        from pathlib import Path

        if not index:
            return None
        target = self._data_docs_folder(context)
        for file in Path(docs_dir).rglob("*"):
            if file.is_file():
                destination = target / file.relative_to(docs_dir).as_posix()
                destination.parent.mkdir(parents=True, exist_ok=True)
                destination.write_bytes(file.read_bytes())
        return str(target / "index.html")

    def _conclude(self, context, summary: dict[str, Any]) -> Validation:
        from airflow_ml_provider.ml.data.expectations import describe_failure

        schema = summary["schema"] or {}
        drift = summary["drift"]
        blocking = [f"{g['check']}: {g['message']}" for g in summary["guards"]]
        problems = [describe_failure(entry) for entry in summary["failed_expectations"]]
        problems += [f"schema {f['check']}: {f['message']}" for f in schema.get("findings", [])]
        summary["warnings"] = []
        if self.on_failure == "warn":
            summary["warnings"], problems = problems, []
        if drift is not None:
            self._log_drift(drift, blocking, summary["warnings"])
        summary["success"] = not (blocking or problems)
        summary["retrain_reason"] = "drift" if drift and drift["drift"] else None
        if summary["success"] and schema.get("mode") == INFER:
            self._maybe_store_schema(context, schema)
        report = _snapshot_folder(self.snapshot) / "validation" / f"{_safe(context['run_id'])}.json"
        report.parent.mkdir(parents=True, exist_ok=True)
        report.write_text(json.dumps(summary, indent=2, default=str))
        summary["report_uri"] = str(report)
        context["ti"].xcom_push(key="validation", value=summary)
        self.lineage_result = summary
        if summary["data_docs_uri"]:
            docs = summary["data_docs_uri"]
            record_link(self, context, DataDocsLink.key, docs, data_docs_url(docs))
            self.log.info("Data Docs: %s", summary["data_docs_uri"])
        for line in summary["warnings"]:
            self.log.warning("validation warning: %s", line)
        if not summary["success"]:
            lines = blocking + problems
            for line in lines:
                self.log.error("%s", line)
            # The first line is what the UI, --json and the mail show: it names each problem.
            raise AirflowFailException(
                f"data validation failed ({len(lines)} problem(s)): {' | '.join(lines)}\n"
                f"  on {summary['rows']} rows of {self.snapshot['uri']}:\n  - "
                + "\n  - ".join(lines)
            )
        self.log.info(
            "validation passed: %d rows, %d expectations, schema %s, %d warning(s)",
            summary["rows"],
            summary["evaluated"],
            schema.get("mode") or "off",
            len(summary["warnings"]),
        )
        return cast(Validation, summary)

    def _log_drift(self, drift: dict[str, Any], blocking: list[str], warnings: list[str]) -> None:
        from airflow_ml_provider.ml.drift.detection import drift_summary_line, format_drift_table

        self.log.info("drift against %s\n%s", drift["baseline_uri"], format_drift_table(drift))
        if not drift["drift"]:
            return
        line = f"drift: {drift_summary_line(drift)}"
        if self.drift_action == "fail":
            blocking.append(line)
        elif self.drift_action == "warn":
            warnings.append(line)
        else:
            self.log.info("%s; action retrain: training goes ahead", line)

    def _maybe_store_schema(self, context, schema: dict[str, Any]) -> None:
        """Store v1 on the first pass; store a new version when warned changes were accepted."""
        if schema["baseline_uri"] and not schema["findings"]:
            return
        version, uri = self._schema_store(context).add(schema["inferred"])
        schema.update(stored_version=version, stored_uri=uri)
        self.log.info("stored the inferred schema as version %s at %s", version, uri)


def _snapshot_folder(snapshot: Snapshot) -> ObjectStoragePath:
    return ObjectStoragePath(snapshot["uri"]).parent


def _safe(run_id: str) -> str:
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in run_id)
