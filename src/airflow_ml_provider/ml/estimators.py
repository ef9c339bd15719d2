"""Import an estimator class by path, within the allow-list, with did-you-mean errors."""

from __future__ import annotations

import difflib
import importlib
import pkgutil
from typing import Any

from airflow_ml_provider.core.errors import AirflowMlError


class EstimatorError(AirflowMlError, ValueError):
    """The estimator path or its params are not usable."""


class UnknownParameterError(EstimatorError):
    """The estimator does not accept a parameter given in the YAML."""

    def __init__(self, message: str, parameter: str):
        super().__init__(message)
        self.parameter = parameter


def _closest(word: str, candidates: list[str]) -> str | None:
    found = difflib.get_close_matches(word, candidates, n=1, cutoff=0.6)
    return found[0] if found else None


def _suggest_module(module_path: str) -> str | None:
    parts = module_path.split(".")
    for depth in range(1, len(parts)):
        parent = ".".join(parts[:depth])
        try:
            importlib.import_module(".".join(parts[: depth + 1]))
            continue
        except ImportError:
            pass
        try:
            package = importlib.import_module(parent)
        except ImportError:
            return None
        children = [m.name for m in pkgutil.iter_modules(getattr(package, "__path__", []))]
        match = _closest(parts[depth], children)
        if match is None:
            return None
        return ".".join([*parts[:depth], match, *parts[depth + 1 :]])
    return None


def import_estimator(path: str, allowed_prefixes: tuple[str, ...]) -> type:
    """Return the estimator class at ``path``; raise EstimatorError with a suggestion."""
    if not path.startswith(tuple(allowed_prefixes)):
        raise EstimatorError(
            f"{path!r} is not in an allowed module ({', '.join(allowed_prefixes)})"
        )
    module_path, _, class_name = path.rpartition(".")
    try:
        module = importlib.import_module(module_path)
    except ImportError:
        suggestion = _suggest_module(module_path)
        hint = f"; did you mean '{suggestion}.{class_name}'?" if suggestion else ""
        raise EstimatorError(f"{path!r} cannot be imported{hint}") from None
    estimator = getattr(module, class_name, None)
    if not isinstance(estimator, type):
        public = [n for n in dir(module) if not n.startswith("_")]
        match = _closest(class_name, public)
        hint = f"; did you mean '{module_path}.{match}'?" if match else ""
        raise EstimatorError(f"{path!r} cannot be imported: no class {class_name!r}{hint}")
    if not (hasattr(estimator, "fit") and hasattr(estimator, "get_params")):
        raise EstimatorError(f"{path!r} is not a scikit-learn compatible estimator (no fit)")
    return estimator


def build_estimator(path: str, params: dict[str, Any], allowed_prefixes: tuple[str, ...]):
    """Instantiate the estimator, rejecting unknown params by name with a suggestion."""
    estimator_class = import_estimator(path, allowed_prefixes)
    if not takes_any_keyword(estimator_class):
        check_param_names(estimator_class().get_params(deep=False), params, path, "parameter")
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
            match = _closest(name, valid)
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
