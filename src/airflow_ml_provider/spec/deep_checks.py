"""Checks that need heavy imports: run by ``airflow-ml check`` and at the start of a run.

Never called while Airflow parses the DAG folder.
"""

from __future__ import annotations

from airflow_ml_provider.spec.errors import SpecProblem
from airflow_ml_provider.spec.loader import LoadedPipeline
from airflow_ml_provider.spec.positions import load_positioned


def deep_problems(loaded: LoadedPipeline, allowed_prefixes: tuple[str, ...]) -> list[SpecProblem]:
    """Import the estimator, try its params, and compare its task type with the spec."""
    from airflow_ml_provider.ml.estimators import EstimatorError, build_estimator, task_type_of

    doc = load_positioned(loaded.file)
    training = loaded.spec.training

    def problem(path: tuple, message: str) -> SpecProblem:
        mark = doc.mark_for(path)
        return SpecProblem(mark.file, mark.line, mark.column, ".".join(map(str, path)), message)

    try:
        estimator = build_estimator(training.estimator, training.params, allowed_prefixes)
    except EstimatorError as exc:
        field = ("training", "params") if "parameter" in str(exc) else ("training", "estimator")
        return [problem(field, str(exc))]
    except Exception as exc:  # the estimator's own constructor rejected the params
        return [problem(("training", "params"), f"{training.estimator} rejected params: {exc}")]
    actual = task_type_of(estimator)
    if actual is not None and actual != training.task_type:
        return [
            problem(
                ("training", "task") if training.task else ("training", "estimator"),
                f"{training.estimator} is a {actual} estimator, but the pipeline is set up "
                f"for {training.task_type}",
            )
        ]
    return []
