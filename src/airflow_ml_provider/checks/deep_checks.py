"""Checks that need heavy imports: run by ``airflow-ml check`` and at the start of a run.

Never called while Airflow parses the DAG folder.
"""

from __future__ import annotations

from typing import Any

from airflow_ml_provider.checks.data_checks import DataReport, data_report
from airflow_ml_provider.pipeline_spec.errors import SpecProblem
from airflow_ml_provider.pipeline_spec.loader import LoadedPipeline, problem_at
from airflow_ml_provider.pipeline_spec.positions import PositionedDocument, load_positioned


def _problem(doc: PositionedDocument, path: tuple, message: str, *, at_key=False) -> SpecProblem:
    return problem_at(doc, path, message, prefer_key=at_key)


def estimator_problems(
    loaded: LoadedPipeline, doc: PositionedDocument, prefixes, callables=()
) -> list:
    """Each estimator (training's, or every candidate's) imports, takes its params and its
    search parameters, and is of the pipeline's task type."""
    training = loaded.spec.training
    if training.team_trainer:  # team code runs only in the training process or pod
        return []
    fitted: list[tuple[tuple[str | int, ...], str | None, dict, Any]]
    if not training.candidates:
        fitted = [(("training",), training.estimator, training.params, training.search)]
    else:
        fitted = [
            (("training", "candidates", index), c.estimator, c.params, c.search)
            for index, c in enumerate(training.candidates)
        ]
    problems = []
    for where, estimator, params, search in fitted:
        problems += _one_estimator_problems(
            doc, where, estimator, params, search, loaded, prefixes, callables
        )
    return problems


def _one_estimator_problems(doc, where, path, params, search, loaded, prefixes, callables) -> list:
    from airflow_ml_provider.ml.features.estimators import (
        EstimatorError,
        InvalidParameterValue,
        UnknownParameterError,
        build_estimator,
        task_type_of,
    )
    from airflow_ml_provider.ml.search.cross_validated import SearchError, check_param_names

    training = loaded.spec.training
    try:
        estimator = build_estimator(path, params, prefixes, callables)
    except UnknownParameterError as exc:
        return [_problem(doc, (*where, "params", exc.parameter), str(exc), at_key=True)]
    except InvalidParameterValue as exc:
        field = (*where, "params", exc.parameter) if exc.parameter else (*where, "params")
        return [_problem(doc, field, str(exc))]
    except EstimatorError as exc:
        return [_problem(doc, (*where, "estimator"), str(exc))]
    except Exception as exc:  # the estimator's own constructor rejected the params
        message = f"{path} rejected its params: {exc}"
        return [_problem(doc, (*where, "params"), message)]
    actual = task_type_of(estimator)
    if actual is not None and actual != training.task_type:
        field = ("training", "task") if training.task else (*where, "estimator")
        message = (
            f"{path} is a {actual} estimator, but the pipeline is set up for {training.task_type}"
        )
        return [_problem(doc, field, message)]
    for name in search.params if search else ():
        if name.startswith("preprocess__"):
            continue  # the preprocessing's names are known only once the data is read
        try:
            check_param_names(estimator, [name], path)
        except (SearchError, EstimatorError, ValueError) as exc:
            field = (*where, "search", "params", name)
            return [_problem(doc, field, str(exc), at_key=True)]
    return []


def feature_code_problems(
    loaded: LoadedPipeline, doc: PositionedDocument, prefixes, callables
) -> list:
    """Each team transformer (features.custom) is an allowed transformer class that takes
    its params; each tokenizer is an allowed callable."""
    from airflow_ml_provider.ml.integrity.allowed_code import (
        DisallowedCodeError,
        resolve_callable,
        resolve_class,
        resolved_params,
        transformer_kind,
    )

    features = loaded.spec.features
    problems = []
    for index, item in enumerate(features.custom):
        where = ("features", "custom", index)
        try:
            found = resolve_class(item.class_, prefixes, "allowed_transformer_modules",
                                  transformer_kind)  # fmt: skip
        except DisallowedCodeError as exc:
            problems.append(_problem(doc, (*where, "class"), str(exc)))
            continue
        try:
            resolved_params(found, item.params, item.class_, callables)
        except DisallowedCodeError as exc:
            problems.append(_problem(doc, (*where, "params"), str(exc)))
    tokenizers: list[tuple[tuple[str | int, ...], str | None]] = [
        (("features", "text", "tokenizer"), features.text.tokenizer)
    ]
    tokenizers += [
        (("features", "columns", column, "tokenizer"), spec.options.get("tokenizer"))
        for column, spec in features.columns.items()
    ]
    for place, tokenizer in tokenizers:
        if tokenizer:
            try:
                resolve_callable(tokenizer, callables)
            except DisallowedCodeError as exc:
                problems.append(_problem(doc, place, str(exc)))
    return problems


def notifier_problems(loaded: LoadedPipeline, doc: PositionedDocument) -> list:
    """Import each alerts.notifiers class and build it with its kwargs."""
    from airflow_ml_provider.notifications.notifier import import_notifier

    problems = []
    for index, notifier in enumerate(loaded.spec.alerts.notifiers):
        path = ("alerts", "notifiers", index, "class")
        try:
            notifier_class = import_notifier(notifier.class_)
        except (ImportError, AttributeError, TypeError) as exc:
            problems.append(_problem(doc, path, f"cannot use {notifier.class_}: {exc}"))
            continue
        try:
            notifier_class(**notifier.kwargs)
        except Exception as exc:  # the notifier's own constructor rejected the kwargs
            message = f"{notifier.class_} rejected its kwargs: {exc}"
            problems.append(_problem(doc, ("alerts", "notifiers", index, "kwargs"), message))
    return problems


def expectation_problems(loaded: LoadedPipeline, doc: PositionedDocument) -> list:
    """Each expectation must be known to Great Expectations and accept its kwargs."""
    from airflow_ml_provider.ml.data.expectations import ExpectationConfigError, check_expectation

    problems = []
    for index, item in enumerate(loaded.spec.validation.expectations):
        name, kwargs = next(iter(item.items()))
        try:
            check_expectation(name, kwargs)
        except ExpectationConfigError as exc:
            field = ("validation", "expectations", index, name)
            problems.append(_problem(doc, field, str(exc), at_key=True))
    return problems


def schema_problems(loaded: LoadedPipeline, doc: PositionedDocument) -> list:
    """A pinned validation.schema file must exist and hold a schema."""
    from airflow_ml_provider.storage.schemas import load_pinned_schema

    if loaded.schema_uri is None:
        return []
    try:
        load_pinned_schema(loaded.schema_uri)
    except FileNotFoundError:
        message = f"schema file {loaded.schema_uri} does not exist"
    except Exception as exc:  # unreadable YAML/JSON or not a schema: say which
        message = f"cannot use {loaded.schema_uri} as a schema: {exc}"
    else:
        return []
    return [_problem(doc, ("validation", "schema"), message)]


def serving_problems(loaded: LoadedPipeline, doc: PositionedDocument) -> list:
    """strategy kserve needs model artifacts the cluster can read: not the embedded MLflow
    store's local files (a tracking server's store is checked at deploy time)."""
    from airflow_ml_provider.hooks.mlflow import MlflowHook

    spec = loaded.spec
    if spec.deployment.strategy != "kserve":
        return []
    hook = MlflowHook(spec.registry.mlflow_conn_id)
    try:
        embedded = hook.is_embedded
    except Exception:  # the connection cannot be read here (no metadata DB): deploy-time check
        return []
    if not embedded:
        return []
    message = (
        f"strategy kserve serves models from the MLflow artifact store, which the cluster must "
        f"read; there is no connection {spec.registry.mlflow_conn_id!r}, so the embedded store "
        f"keeps them in {hook.artifact_location_root} (local files); connect a tracking server "
        "whose artifacts are in a bucket (gs://, s3://)"
    )
    return [_problem(doc, ("deployment", "strategy"), message)]


def deep_problems(
    loaded: LoadedPipeline,
    allowed_prefixes: tuple[str, ...],
    transformer_prefixes: tuple[str, ...] | None = None,
    callables: tuple[str, ...] | None = None,
    report: DataReport | None = None,
) -> list[SpecProblem]:
    """Every heavy check of one pipeline file (the allow-lists default to the settings;
    ``report``: the data check's report when the caller already has it)."""
    from airflow_ml_provider import settings

    doc = load_positioned(loaded.file)
    if transformer_prefixes is None:
        transformer_prefixes = settings.allowed_transformer_modules()
    if callables is None:
        callables = settings.allowed_callables()
    return (
        estimator_problems(loaded, doc, allowed_prefixes, callables)
        + feature_code_problems(loaded, doc, transformer_prefixes, callables)
        + notifier_problems(loaded, doc)
        + serving_problems(loaded, doc)
        + expectation_problems(loaded, doc)
        + schema_problems(loaded, doc)
        + (report or data_report(loaded, warnings=False)).problems  # only its problems
    )
