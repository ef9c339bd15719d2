"""load_dags(folder, globals()): the DAGs of each YAML file (the pipeline, and its monitor when
configured); a bad file breaks only its own DAGs."""

from __future__ import annotations

import gc
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from airflow.sdk import DAG

from airflow_ml_provider.factory.builder import (
    build_config_error_dag,
    build_dag,
    build_monitor_dag,
)
from airflow_ml_provider.pipeline_spec import claims
from airflow_ml_provider.pipeline_spec.errors import SpecError
from airflow_ml_provider.pipeline_spec.loader import DEFAULTS_FILE, LoadedPipeline, load_pipeline
from airflow_ml_provider.pipeline_spec.options import LoaderOptions

log = logging.getLogger(__name__)


def pipeline_files(folder: Path) -> list[Path]:
    """Every pipeline YAML file under ``folder`` (defaults.yaml excluded), in a stable order."""
    files = [*folder.rglob("*.yaml"), *folder.rglob("*.yml")]
    return sorted(p for p in files if p.name != DEFAULTS_FILE and p.is_file())


def load_all(folder: str | Path) -> list[tuple[Path, LoadedPipeline | SpecError]]:
    """Load every pipeline file; a file claiming a pipeline id or a registered model another
    file holds loses it (``spec.claims``: the recorded holder keeps it)."""
    outcomes: list[tuple[Path, LoadedPipeline | SpecError]] = []
    options = LoaderOptions.from_config()
    for path in pipeline_files(Path(folder)):
        try:
            outcomes.append((path, load_pipeline(path, options)))
        except SpecError as exc:
            outcomes.append((path, exc))
        except Exception as exc:  # RecursionError, MemoryError, a bug: still only this file
            log.debug("could not load %s", path, exc_info=True)
            outcomes.append((path, SpecError.unexpected(path, exc)))
    loaded = [(p, o) for p, o in outcomes if isinstance(o, LoadedPipeline)]
    errors, holders = claims.settle(loaded, claims.read_claims(options.parse_cache))
    claims.write_claims(options.parse_cache, holders)
    return [(path, errors.get(path, outcome)) for path, outcome in outcomes]


def load_dags(folder: str | Path, namespace: dict[str, Any] | None = None) -> dict[str, DAG]:
    """Build the DAGs of every pipeline file in ``folder`` and put them into ``namespace``.

    A file that fails to load becomes a paused ``config_error__<file>`` DAG that carries
    the error (file:line:column) in its description, docs and single failing task, so the
    problem is visible in the Airflow UI while every other pipeline keeps loading.
    """
    with _collector_paused():
        dags = _build_all(folder)
    if namespace is not None:
        namespace.update(dags)
    return dags


@contextmanager
def _collector_paused() -> Iterator[None]:
    """Building DAGs allocates hundreds of thousands of objects that all stay alive; the
    cyclic garbage collector kept walking them (a quarter of a parse, measured by
    benchmarks/parse_time.py). It resumes, as it was, once the DAGs are built."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def _build_all(folder: str | Path) -> dict[str, DAG]:
    dags: dict[str, DAG] = {}
    for path, outcome in load_all(folder):
        try:
            if isinstance(outcome, SpecError):
                raise outcome
            built = [build_dag(outcome)]
            monitoring = outcome.spec.monitoring
            if monitoring is not None and monitoring.mode == "dag":
                built.append(build_monitor_dag(outcome))
        # Logged at debug level: every task parses the whole folder, and one team's broken
        # file must not put an error line into every other pipeline's task logs; the
        # config_error DAG shows the problem where it belongs.
        except SpecError as exc:
            log.debug("invalid pipeline file %s:\n%s", path, exc)
            built = [build_config_error_dag(path, str(exc))]
        except Exception as exc:  # a bug of ours must still only break this one file
            log.debug("could not build a DAG from %s", path, exc_info=True)
            built = [build_config_error_dag(path, f"{path}:1:1: could not build the DAG: {exc}")]
        dags.update((dag.dag_id, dag) for dag in built)
    return dags
