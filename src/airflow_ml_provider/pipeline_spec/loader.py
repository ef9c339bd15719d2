"""Load a pipeline YAML file (plus its folder's defaults.yaml) into a validated spec."""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError

from airflow_ml_provider.core.locations import resolve_path
from airflow_ml_provider.pipeline_spec import parse_cache
from airflow_ml_provider.pipeline_spec.errors import SpecError, SpecProblem
from airflow_ml_provider.pipeline_spec.models import PipelineSpec
from airflow_ml_provider.pipeline_spec.options import LoaderOptions
from airflow_ml_provider.pipeline_spec.parse_cache import cache_key
from airflow_ml_provider.pipeline_spec.positions import (
    FieldPath,
    PositionedDocument,
    load_positioned,
)
from airflow_ml_provider.pipeline_spec.roots import outside_roots
from airflow_ml_provider.pipeline_spec.rules import cross_field_problems
from airflow_ml_provider.pipeline_spec.templating import expand_env, template_problems
from airflow_ml_provider.pipeline_spec.validation_errors import from_validation_error, problem_at

if TYPE_CHECKING:
    from airflow_ml_provider.pipeline_spec.data_section import SourceSpec

DEFAULTS_FILE = "defaults.yaml"
_REQUIRED_HINT = "expected a mapping with at least pipeline, data, training and evaluation"


@dataclass(frozen=True)
class LoadedPipeline:
    """A validated pipeline spec plus where it came from."""

    spec: PipelineSpec
    file: Path
    source: dict[str, Any]
    config_hash: str
    schema_uri: str | None = None
    scoring_source: dict[str, Any] | None = None
    scoring_output: str | None = None
    monitoring_source: dict[str, Any] | None = None
    labels_source: dict[str, Any] | None = None

    @property
    def dag_id(self) -> str:
        return self.spec.pipeline

    @property
    def source_uri(self) -> str | None:
        """The resolved URI of a files source (None for bigquery and sql)."""
        return self.source.get("uri")


def load_pipeline(
    path: str | Path,
    options: LoaderOptions | None = None,
    *,
    environ: Mapping[str, str] | None = None,
) -> LoadedPipeline:
    """Load and validate one pipeline file; raise SpecError naming file:line:column.

    :param options: what YAML may reach (allow-lists, data roots, variables, the parse
        cache); the current ``[ml_provider]`` settings when not given.
    :param environ: where ``${VAR}`` values come from (``os.environ`` when not given).
    """
    path = Path(path)
    options = options or LoaderOptions.from_config()
    environ = os.environ if environ is None else environ
    defaults_path = path.parent / DEFAULTS_FILE
    has_defaults = defaults_path.is_file() and defaults_path.resolve() != path.resolve()
    key = None
    if options.parse_cache is not None:
        try:
            key = cache_key(path, defaults_path if has_defaults else None, options, environ)
        except OSError:
            key = None  # unreadable: the positioned loader says so with a position
    if key is not None and key in _VALIDATED:
        return _VALIDATED[key]
    cache_folder = options.parse_cache if key else None
    cached = parse_cache.lookup(cache_folder, path, key) if cache_folder and key else None
    if cached is not None:
        try:
            return _remember(key, _validated(path, cached, None, options))
        except SpecError:
            pass  # cannot happen for an unchanged file; re-read it for the positions
    doc = _read_document(path, defaults_path if has_defaults else None)
    problems: list[SpecProblem] = []

    def report(field: FieldPath, message: str) -> None:
        problems.append(problem_at(doc, field, message))

    data = expand_env(doc.data, report, environ, options.env_prefixes)
    loaded = _validated(path, data, doc, options, problems)
    if cache_folder is not None and key is not None:
        parse_cache.store(cache_folder, path, key, data)
    return _remember(key, loaded)


def load_pipeline_data(
    data: Mapping[str, Any],
    base_dir: str | Path,
    *,
    name: str = "pipeline dict",
    options: LoaderOptions | None = None,
    environ: Mapping[str, str] | None = None,
) -> LoadedPipeline:
    """Validate pipeline data built in Python (what a pipeline file holds, as a dict) by the
    same rules, allow-lists and data roots as a file; relative paths are under ``base_dir``.
    A SpecError names each problem by its field (``<name>:1:1: training.estimator: ...``:
    a dict has no lines)."""
    options = options or LoaderOptions.from_config()
    environ = os.environ if environ is None else environ
    if not isinstance(data, Mapping):
        problem = SpecProblem(name, 1, 1, "", f"got a {type(data).__name__}; {_REQUIRED_HINT}")
        raise SpecError([problem])
    problems: list[SpecProblem] = []
    doc = PositionedDocument(data=dict(data), file=name)

    def report(field: FieldPath, message: str) -> None:
        problems.append(problem_at(doc, field, message))

    expanded = expand_env(dict(data), report, environ, options.env_prefixes)
    return _validated(Path(base_dir) / name, expanded, doc, options, problems)


# With the parse cache on, pipelines validated in this process, by cache key (the file's and
# its defaults' bytes, the settings, the variables it may expand): a loader file parsed again
# in the same process skips reading and validating an unchanged file.
_VALIDATED: dict[str, LoadedPipeline] = {}
_VALIDATED_MAX = 4096


def _remember(key: str | None, loaded: LoadedPipeline) -> LoadedPipeline:
    if key is not None:
        if len(_VALIDATED) >= _VALIDATED_MAX:
            _VALIDATED.pop(next(iter(_VALIDATED)))
        _VALIDATED[key] = loaded
    return loaded


def _read_document(path: Path, defaults_path: Path | None) -> PositionedDocument:
    """The file (merged over its folder's defaults.yaml), with positions, as a mapping."""
    doc = load_positioned(path)
    if doc.data is None:
        raise SpecError([SpecProblem(doc.file, 1, 1, "", f"the file is empty; {_REQUIRED_HINT}")])
    if not isinstance(doc.data, dict):
        mark = doc.mark_for(())
        kind = type(doc.data).__name__
        raise SpecError(
            [SpecProblem(doc.file, mark.line, mark.column, "", f"got a {kind}; {_REQUIRED_HINT}")]
        )
    if defaults_path is not None:
        doc = _merge_defaults(load_positioned(defaults_path), doc)
    return doc


def _validated(
    path: Path,
    data: dict[str, Any],
    doc: PositionedDocument | None,
    options: LoaderOptions,
    problems: list[SpecProblem] | None = None,
) -> LoadedPipeline:
    """Validate plain pipeline data; ``doc`` gives positions to problems (without it, data
    from the parse cache, any problem raises a SpecError without positions)."""
    problems = list(problems or [])
    where = doc or PositionedDocument(data=data, file=str(path))
    problems.extend(problem_at(where, field, message) for field, message in template_problems(data))
    try:
        spec = PipelineSpec.model_validate(data, context=options.validation_context())
    except ValidationError as exc:
        problems.extend(from_validation_error(where, data, exc))
        raise SpecError(problems) from None
    problems.extend(
        problem_at(where, field, message) for field, message in cross_field_problems(spec)
    )
    if problems:
        raise SpecError(problems)
    base_dir = path.resolve().parent
    loaded = LoadedPipeline(
        spec=spec,
        file=path.resolve(),
        source=resolved_source(spec, base_dir),
        config_hash=config_hash(spec),
        schema_uri=resolved_schema(spec, base_dir),
        **resolved_batch(spec, base_dir),
        **resolved_monitoring(spec, base_dir),
    )
    roots = (base_dir, *options.data_roots)
    problems = [
        problem_at(where, field, message)
        for field, message in outside_roots(local_files(loaded), roots)
    ]
    if problems:
        raise SpecError(problems)
    return loaded


def local_files(loaded: LoadedPipeline) -> dict[FieldPath, str | None]:
    """Every file location the pipeline names, by the field that names it."""
    spec = loaded.spec
    template = spec.training.kubernetes.pod_template_file if spec.training.kubernetes else None
    return {
        ("data", "source"): loaded.source.get("uri"),
        ("validation", "schema"): loaded.schema_uri,
        ("deployment", "batch", "source"): (loaded.scoring_source or {}).get("uri"),
        ("deployment", "batch", "output"): loaded.scoring_output,
        ("monitoring", "source"): (loaded.monitoring_source or {}).get("uri"),
        ("monitoring", "labels", "source"): (loaded.labels_source or {}).get("uri"),
        ("training", "kubernetes", "pod_template_file"): resolve_path(template, loaded.file.parent)
        if template
        else None,
    }


def resolved_monitoring(spec: PipelineSpec, base_dir: Path) -> dict[str, Any]:
    """monitoring's recent-data and labels sources, resolved like data.source."""
    monitoring = spec.monitoring
    if monitoring is None:
        return {}
    labels = monitoring.labels
    return {
        "monitoring_source": source_dict(monitoring.source, monitoring.resolved_format, base_dir),
        "labels_source": source_dict(labels.source, labels.resolved_format, base_dir)
        if labels
        else None,
    }


def config_hash(spec: PipelineSpec) -> str:
    """A stable hash of the resolved configuration (recorded on runs and model versions)."""
    canonical = json.dumps(spec.model_dump(mode="json"), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()[:16]


def source_dict(source: SourceSpec, data_format: str | None, base_dir: Path) -> dict[str, Any]:
    """A SourceSpec as the dict DataSourceHook takes (paths made URIs, files' format set)."""
    resolved = source.model_dump(exclude_none=True)
    if resolved.get("uri"):
        resolved["uri"] = resolve_path(resolved["uri"], base_dir)
    if resolved["kind"] == "files":
        resolved["format"] = data_format
    return resolved


def resolved_source(spec: PipelineSpec, base_dir: Path) -> dict[str, Any]:
    """data.source as the dict the snapshot operator and sensor take (paths made URIs)."""
    return source_dict(spec.data.source, spec.data.resolved_format, base_dir)


def resolved_batch(spec: PipelineSpec, base_dir: Path) -> dict[str, Any]:
    """deployment.batch's source and output, resolved like data.source (empty without it)."""
    batch = spec.deployment.batch
    if batch is None:
        return {}
    return {
        "scoring_source": source_dict(batch.source, batch.resolved_format, base_dir),
        "scoring_output": resolve_path(batch.output, base_dir),
    }


def resolved_schema(spec: PipelineSpec, base_dir: Path) -> str | None:
    """validation.schema as a URI when it names a pinned schema file."""
    value = spec.validation.schema_
    if value in (None, "infer"):
        return None
    return resolve_path(value, base_dir)


def _merge_defaults(defaults: PositionedDocument, doc: PositionedDocument) -> PositionedDocument:
    if defaults.data is None:
        return doc
    if not isinstance(defaults.data, dict):
        mark = defaults.mark_for(())
        raise SpecError(
            [SpecProblem(defaults.file, mark.line, mark.column, "", "defaults must be a mapping")]
        )
    merged = PositionedDocument(
        data=_deep_merge(defaults.data, doc.data),
        file=doc.file,
        values={**defaults.values, **doc.values},
        keys={**defaults.keys, **doc.keys},
    )
    return merged


def _deep_merge(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    result = dict(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(result.get(key), dict):
            result[key] = _deep_merge(result[key], value)
        else:
            result[key] = value
    return result
