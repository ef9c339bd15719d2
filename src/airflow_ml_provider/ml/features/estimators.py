"""Import an estimator class by path, within the allow-list, with did-you-mean errors."""

from __future__ import annotations

from typing import Any

from airflow_ml_provider.core.errors import AirflowMlError
from airflow_ml_provider.ml.integrity.allowed_code import (
    DisallowedCodeError,
    closest,
    estimator_kind,
    resolve_class,
    resolved_params,
)


class EstimatorError(AirflowMlError, ValueError):
    """The estimator path or its params are not usable."""


class UnknownParameterError(EstimatorError):
    """The estimator does not accept a parameter given in the YAML."""

    def __init__(self, message: str, parameter: str):
        super().__init__(message)
        self.parameter = parameter


def import_estimator(path: str, allowed_prefixes: tuple[str, ...]) -> type:
    """The estimator class at ``path``: a public scikit-learn compatible estimator class
    defined in an allowed package (``ml.integrity.allowed_code``); EstimatorError with a
    suggestion."""
    try:
        return resolve_class(path, allowed_prefixes, "allowed_estimator_modules", estimator_kind)
    except DisallowedCodeError as exc:
        raise EstimatorError(str(exc)) from None


def build_estimator(
    path: str,
    params: dict[str, Any],
    allowed_prefixes: tuple[str, ...],
    callables: tuple[str, ...] = (),
):
    """Instantiate the estimator, rejecting unknown params by name with a suggestion and
    params that are not plain data or take code (``ml.integrity.allowed_code.resolved_params``)."""
    estimator_class = import_estimator(path, allowed_prefixes)
    if not takes_any_keyword(estimator_class):
        check_param_names(estimator_class().get_params(deep=False), params, path, "parameter")
    try:
        params = resolved_params(estimator_class, params, path, callables)
    except DisallowedCodeError as exc:
        raise EstimatorError(str(exc)) from None
    estimator = estimator_class(**params)
    check_param_values(estimator, path)
    return estimator


def check_param_values(estimator: Any, path: str) -> None:
    """Check the params against the estimator's own declared constraints (scikit-learn's
    ``_parameter_constraints``, what ``fit`` checks first), so ``n_estimators: -5`` fails in
    ``airflow-ml check`` instead of after a run's data work. Estimators without declared
    constraints are not checked here."""
    import re

    validate = getattr(estimator, "_validate_params", None)
    if validate is None or not getattr(estimator, "_parameter_constraints", None):
        return
    try:
        validate()
    except (ValueError, TypeError) as exc:
        found = re.search(r"The '(\w+)' parameter", str(exc))
        raise InvalidParameterValue(f"{path}: {exc}", found.group(1) if found else None) from None


class InvalidParameterValue(EstimatorError):
    """A parameter's value breaks the estimator's declared constraints."""

    def __init__(self, message: str, parameter: str | None):
        super().__init__(message)
        self.parameter = parameter


def takes_any_keyword(estimator_class: type) -> bool:
    """Whether the constructor takes ``**kwargs`` (LightGBM and XGBoost pass them on to
    their native parameters, e.g. LightGBM's ``verbose``): any name may be valid then."""
    import inspect

    parameters = inspect.signature(estimator_class).parameters.values()
    return any(p.kind is inspect.Parameter.VAR_KEYWORD for p in parameters)


def check_param_names(valid, names, path: str, what: str = "parameter") -> None:
    """Reject a name not in ``valid`` (an estimator's get_params), naming it with a hint."""
    valid = sorted(valid)
    for name in names:
        if name not in valid:
            match = closest(name, valid)
            hint = f"; did you mean '{match}'?" if match else f"; accepted: {', '.join(valid)}"
            raise UnknownParameterError(f"{path} does not accept the {what} {name!r}{hint}", name)


def task_type_of(estimator: Any) -> str | None:
    """classification / regression according to scikit-learn's own tags."""
    from sklearn.base import is_classifier, is_regressor

    if is_classifier(estimator):
        return "classification"
    if is_regressor(estimator):
        return "regression"
    return None
