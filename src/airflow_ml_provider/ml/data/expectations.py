"""Run Great Expectations 1.x expectations, written as YAML items, on a DataFrame."""

from __future__ import annotations

import difflib
import math
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from airflow_ml_provider.core.errors import AirflowMlError

MAX_EXAMPLES = 5


class ExpectationConfigError(AirflowMlError, ValueError):
    """An expectation name or its kwargs are not valid for Great Expectations."""


def to_configurations(items: list[dict[str, dict[str, Any]]]) -> list[dict[str, Any]]:
    """YAML items ``{name: kwargs}`` → GX expectation configurations ``{type, kwargs}``."""
    return [
        {"type": name, "kwargs": dict(kwargs or {})}
        for item in items
        for name, kwargs in item.items()
    ]


COLUMN_KEYWORDS = ("column", "column_A", "column_B", "column_list")
"""The keyword arguments by which an expectation names the columns it reads."""


def columns_named(items: list[dict[str, dict[str, Any]]], names: list[Any]) -> list[Any]:
    """The columns of ``names`` that the expectations read, in table order: Great
    Expectations validates a frame of these only. Every column when one expectation looks at
    the table's columns (``expect_table_column*``), filters rows by a ``row_condition``, or
    names columns in a keyword not known here; none for table-level ones like row counts. A
    name the table lacks is left out: GX then reports that column missing, as before."""
    wanted: set[Any] = set()
    for config in to_configurations(items):
        kwargs = config["kwargs"]
        unknown = [k for k in kwargs if "column" in k.lower() and k not in COLUMN_KEYWORDS]
        if config["type"].startswith("expect_table_column") or kwargs.get("row_condition"):
            return list(names)
        if unknown:
            return list(names)
        for key in COLUMN_KEYWORDS:
            value = kwargs.get(key)
            wanted.update(value if isinstance(value, list) else [value] if value else [])
    return [name for name in names if name in wanted or str(name) in wanted]


def check_expectation(name: str, kwargs: dict[str, Any]):
    """Build one expectation configuration; raise ExpectationConfigError with GX's reason."""
    from great_expectations.expectations.expectation_configuration import (
        ExpectationConfiguration,
    )
    from great_expectations.expectations.registry import list_registered_expectation_implementations

    known = list_registered_expectation_implementations()
    if name not in known:
        match = difflib.get_close_matches(name, known, n=1, cutoff=0.6)
        hint = f"; did you mean {match[0]!r}?" if match else ""
        raise ExpectationConfigError(f"unknown Great Expectations expectation {name!r}{hint}")
    configuration = ExpectationConfiguration(type=name, kwargs=dict(kwargs or {}))
    try:
        configuration.to_domain_obj()  # validates kwargs against the expectation class
    except Exception as exc:  # GX raises pydantic (v1) validation errors here
        detail = "; ".join(_pydantic_v1_lines(exc)) or " ".join(str(exc).split())
        raise ExpectationConfigError(f"{name}: {detail}") from None
    return configuration


def _pydantic_v1_lines(exc: Exception) -> list[str]:
    errors = getattr(exc, "errors", None)
    if not callable(errors):
        return []
    return [f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in errors()]


def build_suite(items: list[dict[str, dict[str, Any]]], name: str = "pipeline"):
    """Build an ExpectationSuite; raise ExpectationConfigError naming the bad item."""
    import great_expectations as gx

    suite = gx.ExpectationSuite(name=name)
    for index, config in enumerate(to_configurations(items)):
        try:
            suite.add_expectation_configuration(check_expectation(config["type"], config["kwargs"]))
        except ExpectationConfigError as exc:
            raise ExpectationConfigError(f"expectations[{index}]: {exc}") from None
    return suite


def _jsonable(value: Any) -> Any:
    if isinstance(value, float) and math.isnan(value):
        return None
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if hasattr(value, "item"):  # numpy scalars
        return _jsonable(value.item())
    if isinstance(value, str | int | float | bool) or value is None:
        return value
    return str(value)


def _exception_message(result: Any) -> str | None:
    info = result.exception_info or {}
    if info.get("raised_exception"):
        return info.get("exception_message")
    for nested in info.values():
        if isinstance(nested, dict) and nested.get("raised_exception"):
            return nested.get("exception_message")
    return None


DOCS_SITE = "airflow_ml"


@contextmanager
def _no_batch_fingerprint() -> Iterator[None]:
    """Great Expectations fingerprints every in-memory pandas batch under 1 GB by hashing all
    of it (a batch marker that only labels the result); the duplicate-row guard has already
    hashed every row, and a second pass over the frame was a quarter of the whole check
    (benchmarks/validation.py). Its size threshold is read at each batch, so it is 0 for
    our run only. A GX without the threshold simply fingerprints as before."""
    from great_expectations.execution_engine import pandas_execution_engine as engine

    saved = getattr(engine, "HASH_THRESHOLD", None)
    if saved is None:
        yield
        return
    engine.HASH_THRESHOLD = 0
    try:
        yield
    finally:
        engine.HASH_THRESHOLD = saved


def validate_frame(
    frame, items: list[dict[str, dict[str, Any]]], docs_dir: str | None = None
) -> dict[str, Any]:
    """Validate ``frame``; return a JSON-able summary with one entry per expectation.

    With ``docs_dir`` a Checkpoint also renders Great Expectations Data Docs (static HTML)
    into that local folder; the summary's ``data_docs_index`` names its index.html.
    """
    import great_expectations as gx
    from great_expectations.data_context.types.base import ProgressBarsConfig

    context = gx.get_context(mode="ephemeral")
    # GX draws tqdm bars on stderr, which Airflow's task supervisor logs at error level.
    context.variables.progress_bars = ProgressBarsConfig(globally=False)
    batch = (
        context.data_sources.add_pandas("pipeline_data")
        .add_dataframe_asset("snapshot")
        .add_batch_definition_whole_dataframe("whole_snapshot")
    )
    suite = context.suites.add(build_suite(items))
    definition = context.validation_definitions.add(
        gx.ValidationDefinition(name="snapshot_validation", data=batch, suite=suite)
    )
    with _no_batch_fingerprint():
        outcome, docs_index = _run(context, definition, frame, docs_dir)
    results = []
    for result in outcome.results:
        config = result.expectation_config
        kwargs = {k: v for k, v in config.kwargs.items() if k != "batch_id"}
        details = result.result or {}
        results.append(
            _jsonable(
                {
                    "expectation": config.type,
                    "column": kwargs.get("column"),
                    "kwargs": kwargs,
                    "success": bool(result.success),
                    "observed_value": details.get("observed_value"),
                    "unexpected_count": details.get("unexpected_count"),
                    "unexpected_percent": details.get("unexpected_percent"),
                    "examples": list(details.get("partial_unexpected_list") or [])[:MAX_EXAMPLES],
                    "error": _exception_message(result),
                }
            )
        )
    failed = [r for r in results if not r["success"]]
    return {
        "success": bool(outcome.success),
        "rows": int(len(frame)),
        "evaluated": len(results),
        "failed_expectations": failed,
        "results": results,
        "data_docs_index": docs_index,
    }


def _run(context, definition, frame, docs_dir: str | None) -> tuple[Any, str | None]:
    """Run the validation; with ``docs_dir`` through a Checkpoint that renders Data Docs
    there. The validation result and the docs' index.html (or None)."""
    import great_expectations as gx

    if docs_dir is None:
        return definition.run(batch_parameters={"dataframe": frame}), None
    context.add_data_docs_site(
        site_name=DOCS_SITE,
        site_config={
            "class_name": "SiteBuilder",
            "site_index_builder": {"class_name": "DefaultSiteIndexBuilder"},
            "store_backend": {
                "class_name": "TupleFilesystemStoreBackend",
                "base_directory": docs_dir,
            },
        },
    )
    checkpoint = context.checkpoints.add(
        gx.Checkpoint(
            name="snapshot_checkpoint",
            validation_definitions=[definition],
            actions=[gx.checkpoint.UpdateDataDocsAction(name="data_docs", site_names=[DOCS_SITE])],
        )
    )
    run = checkpoint.run(batch_parameters={"dataframe": frame})
    return next(iter(run.run_results.values())), f"{docs_dir.rstrip('/')}/index.html"


def describe_failure(entry: dict[str, Any]) -> str:
    """One readable line per failed expectation: which, on which column, what was seen (a
    few observed values) and what was expected."""
    where = f" on column {entry['column']!r}" if entry.get("column") else ""
    line = f"{entry['expectation']}{where} failed"
    if entry.get("error"):
        return f"{line}: could not be evaluated: {entry['error']}"
    parts = []
    if entry.get("unexpected_count") is not None:
        parts.append(
            f"{entry['unexpected_count']} unexpected values ({entry['unexpected_percent']:.1f}%)"
        )
    if entry.get("observed_value") is not None:
        parts.append(f"observed {entry['observed_value']!r}")
    if entry.get("examples"):
        parts.append(f"e.g. {entry['examples']}")
    bounds = {k: v for k, v in entry["kwargs"].items() if k != "column"}
    if bounds:
        parts.append(f"expected {bounds}")
    return f"{line}: {'; '.join(parts)}" if parts else line
