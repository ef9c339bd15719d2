"""Import what YAML names — only what the allow-lists allow.

``core.allow_lists`` decides by spelling (before anything is imported); this module imports
and decides the rest: an import path resolves to a CLASS of the slot's kind (an estimator, a
transformer, a notifier), defined in — not merely re-exported by — an allowed package, and
listed in its module's ``__all__`` when the module has one; or, for the few slots that take
a function, to a callable the platform listed by exact name. A parameter that takes only a
callable or an object gets one only by such a name. No Airflow imports: the training
process, the pod and ``airflow-ml check`` all use it.
"""

from __future__ import annotations

import difflib
import importlib
import inspect
import numbers
import pkgutil
from collections.abc import Callable, Iterable
from typing import Any

from airflow_ml_provider.core.allow_lists import (
    DEFAULT_ESTIMATOR_PREFIXES,
    DEFAULT_TRANSFORMER_PREFIXES,
    NOT_CODE_MODULES,
    callable_problem,
    code_path_problem,
    entrypoint_problem,
    in_packages,
    params_problems,
)
from airflow_ml_provider.core.errors import AirflowMlError
from airflow_ml_provider.core.training_job import TrainingJob

KindCheck = Callable[[type], "str | None"]
"""Why a class is not of a slot's kind (None when it is)."""


class DisallowedCodeError(AirflowMlError, ValueError):
    """YAML named code the allow-lists do not allow, or that cannot be imported."""


def closest(word: str, candidates: Iterable[str]) -> str | None:
    """The candidate most like ``word`` (a did-you-mean), or None."""
    found = difflib.get_close_matches(word, list(candidates), n=1, cutoff=0.6)
    return found[0] if found else None


def _suggest_module(module_path: str) -> str | None:
    parts = module_path.split(".")
    for depth in range(1, len(parts)):
        try:
            importlib.import_module(".".join(parts[: depth + 1]))
            continue
        except ImportError:
            pass
        try:
            package = importlib.import_module(".".join(parts[:depth]))
        except ImportError:
            return None
        children = [
            m.name
            for m in pkgutil.iter_modules(getattr(package, "__path__", []))
            if not m.name.startswith("_")
        ]
        match = closest(parts[depth], children)
        if match is None:
            return None
        return ".".join([*parts[:depth], match, *parts[depth + 1 :]])
    return None


def resolve_class(path: str, packages: Iterable[str], setting: str, kind: KindCheck) -> type:
    """The class at ``path`` if ``setting``'s allow-list (``packages``) allows it and it is
    of the slot's ``kind``; DisallowedCodeError saying why not (with a did-you-mean)."""
    packages = tuple(packages)
    problem = code_path_problem(path, packages, setting)
    if problem is not None:
        raise DisallowedCodeError(problem)
    module_path, _, name = path.rpartition(".")
    try:
        module = importlib.import_module(module_path)
    except ImportError:
        suggestion = _suggest_module(module_path)
        hint = f"; did you mean '{suggestion}.{name}'?" if suggestion else ""
        raise DisallowedCodeError(f"{path!r} cannot be imported{hint}") from None
    found = getattr(module, name, None)
    if not inspect.isclass(found):
        public = [n for n in dir(module) if not n.startswith("_")]
        match = closest(name, [n for n in public if inspect.isclass(getattr(module, n, None))])
        hint = f"; did you mean '{module_path}.{match}'?" if match else ""
        if found is None:
            raise DisallowedCodeError(f"{path!r} cannot be imported: no class {name!r}{hint}")
        raise DisallowedCodeError(
            f"{path!r} is a {type(found).__name__}, not a class: YAML names classes only "
            f"(a function must be listed in [ml_provider] allowed_callables){hint}"
        )
    exported = getattr(module, "__all__", None)
    if exported is not None and name not in exported:
        raise DisallowedCodeError(
            f"{path!r} is not public: {module_path}.__all__ does not list {name!r}"
        )
    defined_in = getattr(found, "__module__", "") or ""
    if not in_packages(defined_in, packages) or _helper_module(defined_in):
        raise DisallowedCodeError(
            f"{path!r} is {defined_in}.{found.__qualname__}, defined outside the allowed "
            "packages' public code (a re-export is not allowed)"
        )
    problem = kind(found)
    if problem is not None:
        raise DisallowedCodeError(f"{path!r} {problem}")
    return found


def _helper_module(module: str) -> bool:
    return any(part.lstrip("_").lower() in NOT_CODE_MODULES for part in module.split("."))


def resolve_callable(path: str, allowed: Iterable[str]) -> Callable[..., Any]:
    """The function at ``path`` if the platform listed it exactly (``allowed_callables``)."""
    problem = callable_problem(path, allowed)
    if problem is not None:
        raise DisallowedCodeError(problem)
    module_path, _, name = path.rpartition(".")
    try:
        found = getattr(importlib.import_module(module_path), name)
    except (ImportError, AttributeError) as exc:
        raise DisallowedCodeError(f"{path!r} cannot be imported: {exc}") from None
    if not callable(found):
        raise DisallowedCodeError(f"{path!r} is not callable")
    return found


def resolve_entrypoint(path: str, packages: Iterable[str]) -> Callable[..., Any]:
    """The team training function at ``package.module:function`` if the platform allows its
    package (``allowed_training_modules``) and it is a plain function defined in that very
    module (not a re-export, a class or a builtin)."""
    problem = entrypoint_problem(path, packages)
    if problem is not None:
        raise DisallowedCodeError(f"training.entrypoint: {problem}")
    module_path, _, name = path.partition(":")
    try:
        module = importlib.import_module(module_path)
    except ImportError as exc:
        raise DisallowedCodeError(
            f"training.entrypoint {path!r} cannot be imported: {exc}"
        ) from None
    found = getattr(module, name, None)
    if not inspect.isfunction(found):
        what = "nothing" if found is None else f"a {type(found).__name__}"
        raise DisallowedCodeError(
            f"training.entrypoint {path!r} is {what}, not a function defined in {module_path}"
        )
    if found.__module__ != module_path:
        raise DisallowedCodeError(
            f"training.entrypoint {path!r} is {found.__module__}.{found.__qualname__}, "
            f"re-exported by {module_path}: name the module that defines it"
        )
    return found


def estimator_kind(cls: type) -> str | None:
    """An estimator: a scikit-learn BaseEstimator subclass with fit and predict."""
    from sklearn.base import BaseEstimator

    if not issubclass(cls, BaseEstimator) or not hasattr(cls, "fit"):
        return "is not a scikit-learn compatible estimator (a BaseEstimator with fit)"
    if not hasattr(cls, "predict"):
        return "is not a model: it has no predict (a transformer belongs in features.custom)"
    return None


def transformer_kind(cls: type) -> str | None:
    """A transformer: a scikit-learn BaseEstimator subclass with fit and transform."""
    from sklearn.base import BaseEstimator

    if not (issubclass(cls, BaseEstimator) and hasattr(cls, "fit")):
        return "is not a scikit-learn compatible transformer (a BaseEstimator with fit)"
    if not hasattr(cls, "transform"):
        return "is not a transformer (no transform method)"
    return None


_PLAIN_TYPES = (int, float, str, bool, list, dict, tuple, numbers.Integral, numbers.Real)


def _takes_code(constraint: Any) -> bool:
    """Whether a scikit-learn parameter constraint accepts a callable or an object."""
    if constraint is callable:
        return True
    inner = getattr(constraint, "constraint", None)  # Hidden(...)
    if inner is not None:
        return _takes_code(inner)
    if type(constraint).__name__ == "HasMethods":
        return True
    return inspect.isclass(constraint) and not issubclass(constraint, _PLAIN_TYPES)


def _code_only(cls: type, name: str) -> tuple[bool, bool]:
    """``(takes a callable, takes nothing but code)`` for parameter ``name`` of ``cls``:
    from scikit-learn's declared constraints, else from the default value."""
    constraints = (getattr(cls, "_parameter_constraints", None) or {}).get(name)
    if constraints is not None:
        code = [c for c in constraints if _takes_code(c)]
        plain = [c for c in constraints if c is not None and not _takes_code(c)]
        return any(c is callable for c in constraints), bool(code) and not plain
    try:
        parameter = inspect.signature(cls).parameters.get(name)
    except (TypeError, ValueError):
        return False, False
    default = getattr(parameter, "default", None)
    takes_callable = callable(default) and not inspect.isclass(default)
    return takes_callable, takes_callable


def resolved_params(
    cls: type, params: dict[str, Any], path: str, callables: Iterable[str] = ()
) -> dict[str, Any]:
    """``params`` for ``cls`` with each text naming an allowed callable replaced by it where
    the parameter takes a callable; DisallowedCodeError for a refused parameter (files, not
    plain data) or one that takes only a callable or an object and got none allowed."""
    refused = params_problems(params)
    if refused:
        name, why = refused[0]
        raise DisallowedCodeError(f"{path}: {why}" if name in why else f"{path}: {name}: {why}")
    callables = tuple(callables)
    resolved = dict(params)
    for name, value in params.items():
        takes_callable, code_only = _code_only(cls, name)
        if takes_callable and isinstance(value, str) and value in callables:
            resolved[name] = resolve_callable(value, callables)
        elif code_only and value is not None:
            raise DisallowedCodeError(
                f"{path}: parameter {name!r} takes a callable or an object, which YAML cannot "
                "give; only a function the platform listed in [ml_provider] allowed_callables "
                "can be named here"
            )
    return resolved


def job_code_problems(job: TrainingJob) -> list[str]:
    """What the training job names, checked by spelling before the training process imports
    anything: the estimator, team transformers and tokenizers, and every parameter."""
    problems = []
    estimator = job.estimator
    if estimator:
        problem = code_path_problem(
            estimator,
            job.allowed_estimator_modules or DEFAULT_ESTIMATOR_PREFIXES,
            "allowed_estimator_modules",
        )
        problems += [f"estimator: {problem}"] if problem else []
    entrypoint = job.entrypoint
    if entrypoint:
        problem = entrypoint_problem(entrypoint, job.allowed_training_modules)
        problems += [f"entrypoint: {problem}"] if problem else []
    problems += [f"params.{n}: {why}" for n, why in params_problems(job.params)]
    for name in (job.search or {}).get("params") or {}:
        problems += [f"search.params.{n}: {why}" for n, why in params_problems({name: None})]
    features = job.features
    for index, item in enumerate(features.get("custom") or []):
        problem = code_path_problem(
            str(item.get("class")),
            job.allowed_transformer_modules or DEFAULT_TRANSFORMER_PREFIXES,
            "allowed_transformer_modules",
        )
        problems += [f"features.custom.{index}.class: {problem}"] if problem else []
        problems += [
            f"features.custom.{index}.params.{n}: {why}"
            for n, why in params_problems(item.get("params") or {})
        ]
    for tokenizer in _tokenizers(features):
        problem = callable_problem(tokenizer, job.allowed_callables)
        problems += [f"tokenizer: {problem}"] if problem else []
    return problems


def _tokenizers(features: dict[str, Any]) -> list[str]:
    settings = [features.get("text") or {}, *(features.get("columns") or {}).values()]
    return [s["tokenizer"] for s in settings if isinstance(s, dict) and s.get("tokenizer")]


def check_job_code(job: TrainingJob) -> None:
    """DisallowedCodeError listing what the job names that is not allowed (see above)."""
    problems = job_code_problems(job)
    if problems:
        raise DisallowedCodeError("the job names code that is not allowed: " + "; ".join(problems))
