"""What code a YAML file may name, decided by its spelling alone (no import): the part of
every allow-list that runs while Airflow parses the DAG folder, in ``airflow-ml check`` and in
the training process before it imports anything. ``ml.integrity.allowed_code`` does the rest
once the
name may be imported (a class of the right kind, defined in an allowed package).

An import path from YAML names either a class in an allowed package — never a function, a
module attribute or a private name — or a callable the platform listed by its exact name
(``[ml_provider] allowed_callables``). Parameter values from YAML are plain data, and the
parameters that make an estimator read or write files are refused.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterable
from typing import Annotated, Any

from pydantic import AfterValidator, ValidationInfo

DEFAULT_ESTIMATOR_PREFIXES = ("sklearn.", "lightgbm.", "xgboost.")
DEFAULT_NOTIFIER_PREFIXES = ("airflow.providers.",)
DEFAULT_TRANSFORMER_PREFIXES = ("sklearn.",)
DEFAULT_CALLABLES: tuple[str, ...] = ()
DEFAULT_TRAINING_MODULES: tuple[str, ...] = ()
DEFAULT_ENV_PREFIXES = ("AIRFLOW_ML_",)
DEFAULT_IMAGE_PREFIXES: tuple[str, ...] = ()
DEFAULT_SECRETS: tuple[str, ...] = ()
"""The defaults of the [ml_provider] allow-lists (estimator, notifier and team transformer
packages, callables by exact name, environment variables ${VAR} may read)."""

_IDENTIFIER = re.compile(r"^[A-Za-z][A-Za-z0-9_]*$")
NOT_CODE_MODULES = frozenset(
    {"testing", "tests", "test", "conftest", "mocking", "utils", "internal", "externals",
     "vendor", "fixes", "compat"}
)  # fmt: skip
"""Module names (leading underscores ignored) no YAML-named class may come from: test
helpers, utilities and vendored or internal code, where subprocess helpers and re-exports of
the standard library live (``sklearn.utils._testing.check_output``)."""
NEVER_ALLOWED_PACKAGES = frozenset(
    {"builtins", "os", "sys", "subprocess", "shutil", "importlib", "operator", "functools",
     "pickle", "marshal", "ctypes", "socket", "runpy", "code", "pty", "posix", "io"}
)  # fmt: skip
"""Top-level packages an allow-list entry may never open, whatever the platform sets."""
FILE_PARAMETERS = frozenset(
    {"memory", "model_dir",
     # LightGBM's file parameters under every alias LightGBM accepts (a test compares this
     # with LightGBM's own alias table): its sklearn API passes unknown keywords through
     "output_model", "model_out", "model_output", "input_model", "model_in", "model_input",
     "output_result", "name_pred", "pred_name", "predict_name", "predict_result",
     "prediction_name", "prediction_result", "save_binary", "is_save_binary",
     "is_save_binary_file", "forcedsplits_filename", "fs", "forced_splits",
     "forced_splits_file", "forced_splits_filename", "forcedbins_filename",
     "machine_list_filename", "mlist", "machine_list", "machine_list_file", "data", "train",
     "train_data", "data_filename", "train_data_file", "valid", "test", "test_data",
     "valid_data", "test_data_file", "valid_data_file", "valid_filenames", "config",
     "config_file", "convert_model", "convert_model_file", "parser_config_file",
     "snapshot_freq", "save_period", "task", "task_type"}
)  # fmt: skip
"""Estimator parameters that make it read or write files (scikit-learn's cache ``memory``,
LightGBM's and XGBoost's native file parameters); names ending in FILE_SUFFIXES are refused
too, and text vectorizers' ``input``."""
FILE_SUFFIXES = ("_filename", "_filenames", "_file", "_files", "_path", "_dir")
NETWORK_PARAMETERS = frozenset(
    {"machines", "nodes", "workers", "num_machines", "num_machine", "local_listen_port",
     "port", "local_port", "time_out"}
)  # fmt: skip
"""LightGBM's distributed-training parameters (every alias): with them a fit listens on a
port and connects to the machines named — network reach YAML may not choose."""
MAX_PARAM_DEPTH = 8
NOTIFIER_FILE_ARGUMENTS = frozenset(
    {"files", "file", "filename", "template", "template_file", "templates_dict",
     "template_searchpath", "attachment", "attachment_path"}
)  # fmt: skip
"""Notifier arguments that read local files (SmtpNotifier's ``files`` attachments and
``template``): never from YAML — a notifier could mail any file the worker can read."""


def package_of(entry: str) -> str:
    """An allow-list entry as a package name: ``sklearn.`` and ``sklearn`` both mean the
    package ``sklearn`` and its submodules (never ``sklearnx``)."""
    return entry.strip().rstrip(".")


def in_packages(path: str, entries: Iterable[str]) -> bool:
    """Whether ``path`` is a package of ``entries`` or inside one."""
    packages = [package_of(entry) for entry in entries if package_of(entry)]
    return any(path == p or path.startswith(p + ".") for p in packages)


def path_problem(path: str) -> str | None:
    """Why ``path`` can never name allowed code, by its spelling alone; None when it may."""
    parts = path.split(".")
    if len(parts) < 2 or not all(_IDENTIFIER.match(part) for part in parts):
        private = [part for part in parts if part.startswith("_")]
        if private:
            return f"{private[0]!r} is a private name (it starts with '_'); only public names"
        return "expected a dotted import path of public names, e.g. package.module.Class"
    if parts[0] in NEVER_ALLOWED_PACKAGES:
        return f"{parts[0]!r} is never allowed: it is not a package of models or notifiers"
    helpers = [part for part in parts[:-1] if part.lower() in NOT_CODE_MODULES]
    if helpers:
        return (
            f"{helpers[0]!r} is a test, utility or internal module; classes are allowed only "
            "from a package's public modules"
        )
    return None


def code_path_problem(path: str, entries: Iterable[str], setting: str) -> str | None:
    """Why ``path`` is not a class path the allow-list ``setting`` lets YAML name."""
    packages = [package_of(e) for e in entries if package_of(e)]
    if not in_packages(path, packages):
        return (
            f"{path!r} is not in an allowed module; allowed packages are "
            f"{', '.join(packages) or 'none'} (set [ml_provider] {setting} to add more)"
        )
    return path_problem(path)


def callable_problem(path: str, allowed: Iterable[str]) -> str | None:
    """Why ``path`` is not a callable the platform listed by exact name."""
    allowed = tuple(allowed)
    if path in allowed:
        return None
    listed = ", ".join(allowed) or "none"
    return (
        f"{path!r} is not an allowed callable; callables (tokenizers) must be listed by exact "
        f"name in [ml_provider] allowed_callables (listed: {listed})"
    )


def entrypoint_problem(path: str, entries: Iterable[str]) -> str | None:
    """Why ``path`` (``package.module:function``) is not a training entrypoint the platform
    allows (``[ml_provider] allowed_training_modules``; none by default): a public function
    of a public module inside an allowed package."""
    module, colon, function = path.partition(":")
    if not colon or not module or not function:
        return f"{path!r}: expected package.module:function, e.g. acme_models.train:fit"
    packages = [package_of(e) for e in entries if package_of(e)]
    if not in_packages(module, packages):
        return (
            f"{module!r} is not an allowed training module; allowed packages are "
            f"{', '.join(packages) or 'none'} (set [ml_provider] allowed_training_modules "
            "to add a team's training package)"
        )
    if not _IDENTIFIER.match(function):
        return f"{function!r} is a private or invalid name; only a public function"
    return path_problem(f"{module}.{function}")


def context_list(info: ValidationInfo, setting: str, default: tuple[str, ...]) -> tuple:
    """The allow-list ``setting`` from the validation context (the loader's options), else
    ``default``."""
    value = (info.context or {}).get(setting)
    return tuple(default if value is None else value)


def in_allowed_module(
    value: str, info: ValidationInfo, setting: str, default: tuple[str, ...]
) -> str:
    """``value`` if it is a public class path inside an allowed package of the ``setting``
    allow-list (``[ml_provider] <setting>``, passed in the validation context; else
    ``default``); a ValueError saying why not."""
    problem = code_path_problem(value, context_list(info, setting, default), setting)
    if problem is not None:
        raise ValueError(problem)
    return value


def allowed_callable(value: str, info: ValidationInfo) -> str:
    """``value`` if it is listed exactly in ``[ml_provider] allowed_callables``."""
    problem = callable_problem(value, context_list(info, "allowed_callables", DEFAULT_CALLABLES))
    if problem is not None:
        raise ValueError(problem)
    return value


def allowed_entrypoint(value: str, info: ValidationInfo) -> str:
    """``value`` if it is a training entrypoint the platform allows (validation context)."""
    allowed = context_list(info, "allowed_training_modules", DEFAULT_TRAINING_MODULES)
    problem = entrypoint_problem(value, allowed)
    if problem is not None:
        raise ValueError(problem)
    return value


def cluster_value_problem(
    value: str, allowed: Iterable[str], setting: str, what: str, *, by_prefix: bool = False
) -> str | None:
    """Why a pod setting YAML names is not one the platform allows (None when it is): by
    exact name (ServiceAccounts, Secrets), or ``by_prefix`` (images) where a prefix ends at a
    registry path boundary — ``registry.acme.io/ml`` allows ``registry.acme.io/ml/x:1``,
    never ``registry.acme.io/mlevil/x:1``."""
    allowed = tuple(allowed)
    ok = any(_image_under(value, prefix) for prefix in allowed) if by_prefix else value in allowed
    if ok and value:
        return None
    listed = ", ".join(allowed) or "none"
    return (
        f"{what} {value!r} is not allowed; the platform allows {listed} ([ml_provider] {setting})"
    )


def _image_under(image: str, prefix: str) -> bool:
    if not prefix or not image.startswith(prefix):
        return False
    return prefix.endswith(("/", ":", "@")) or image[len(prefix) :][:1] in ("", "/", ":", "@")


def allowed_cluster_value(
    value: str,
    info: ValidationInfo,
    setting: str,
    default: tuple[str, ...],
    what: str,
    *,
    by_prefix: bool = False,
) -> str:
    """``value`` if the ``setting`` allow-list (validation context, else ``default``) has it."""
    allowed = context_list(info, setting, default)
    problem = cluster_value_problem(value, allowed, setting, what, by_prefix=by_prefix)
    if problem is not None:
        raise ValueError(problem)
    return value


def parameter_name_problem(name: str) -> str | None:
    """Why the estimator parameter ``name`` may not be set from YAML: it makes the estimator
    read or write files (a search's ``step__name`` is judged by its last part)."""
    base = name.rsplit("__", 1)[-1].lower()
    if base in FILE_PARAMETERS or base.endswith(FILE_SUFFIXES):
        return (
            f"parameter {name!r} makes the estimator read or write files, which YAML may not "
            "choose; files are named only through data.source and the artifact store"
        )
    if base in NETWORK_PARAMETERS:
        return (
            f"parameter {name!r} makes the estimator listen on or connect to the network "
            "(distributed training), which YAML may not choose"
        )
    if base == "input":  # text vectorizers: 'filename' / 'file' read the files rows name
        return f"parameter {name!r} is refused: text features are always the text itself"
    return None


def notifier_argument_problem(name: str) -> str | None:
    """Why the notifier argument ``name`` may not be set from YAML (it reads files)."""
    if name in NOTIFIER_FILE_ARGUMENTS or parameter_name_problem(name):
        return (
            f"notifier argument {name!r} reads local files (attachments, templates), which YAML "
            "may not choose: a notifier could send any file the worker can read"
        )
    return None


def plain_data_problem(value: Any, depth: int = 0) -> str | None:
    """Why ``value`` is not plain data (numbers, text, booleans, lists and mappings, nested
    at most MAX_PARAM_DEPTH deep, no infinite numbers); None when it is."""
    if depth > MAX_PARAM_DEPTH:
        return f"nested more than {MAX_PARAM_DEPTH} levels deep"
    if value is None or isinstance(value, bool | int | str):
        return None
    if isinstance(value, float):
        return None if not math.isinf(value) else "an infinite number is not a parameter value"
    items: Iterable[Any]
    if isinstance(value, list | tuple):
        items = value
    elif isinstance(value, dict):
        keys = [key for key in value if not isinstance(key, str)]
        if keys:
            return f"mapping keys must be text, got {type(keys[0]).__name__}"
        items = value.values()
    else:
        return (
            f"a {type(value).__name__} is not plain data (numbers, text, booleans, lists and "
            "mappings only)"
        )
    for item in items:
        problem = plain_data_problem(item, depth + 1)
        if problem:
            return problem
    return None


def params_problems(params: dict[str, Any]) -> list[tuple[str, str]]:
    """``(name, why)`` for every refused parameter of ``params``."""
    problems = []
    for name, value in params.items():
        problem = parameter_name_problem(str(name)) or plain_data_problem(value)
        if problem is not None:
            problems.append((str(name), problem))
    return problems


def refused_by(problem_of: Callable[[Any], str | None]) -> AfterValidator:
    """A pydantic validator raising ``problem_of(value)`` as the value's error when it is not
    None (the problem functions above, as field types)."""

    def check(value: Any) -> Any:
        problem = problem_of(value)
        if problem is not None:
            raise ValueError(problem)
        return value

    return AfterValidator(check)


ParamName = Annotated[str, refused_by(parameter_name_problem)]
PlainValue = Annotated[Any, refused_by(plain_data_problem)]
NotifierArgument = Annotated[str, refused_by(notifier_argument_problem)]
Params = dict[ParamName, PlainValue]
"""Constructor parameters from YAML: a refused name or value is reported at its own key."""
