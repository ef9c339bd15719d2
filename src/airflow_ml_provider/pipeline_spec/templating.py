"""``${ENV_VAR}`` and ``${ENV_VAR:-default}`` expansion in YAML strings.

Only variables whose names start with an allowed prefix (``[ml_provider]
allowed_env_prefixes``, default ``AIRFLOW_ML_``) are expanded: the process that parses DAGs
holds Airflow's own secrets in its environment (``AIRFLOW__SMTP__SMTP_PASSWORD``, connection
URIs), and a YAML author must not be able to copy them into a DAG. A refused name gets the
same answer whether it is set or not. Free-text fields (description, tags, owner) are never
expanded: they are shown in the UI as written.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Mapping
from typing import Any

from airflow_ml_provider.core.allow_lists import DEFAULT_ENV_PREFIXES

_VARIABLE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")
LITERAL_FIELDS = frozenset({"description", "tags", "owner"})
"""Top-level fields shown as written: never expanded."""

FieldPath = tuple[str | int, ...]

_JINJA = re.compile(r"\{\{|\{%|\{#")
TEMPLATED_FIELDS = (("alerts", "notifiers"),)
"""Where YAML values are Jinja templates (rendered with a restricted context): nowhere else."""


def expand_env(
    data: Any,
    on_problem: Callable[[FieldPath, str], None],
    environ: Mapping[str, str] | None = None,
    allowed_prefixes: tuple[str, ...] = DEFAULT_ENV_PREFIXES,
    path: FieldPath = (),
) -> Any:
    """Return ``data`` with allowed variables expanded in every string; report each refused
    or unset one through ``on_problem(field path, message)``."""
    env = os.environ if environ is None else environ
    if isinstance(data, dict):
        return {
            key: value
            if not path and key in LITERAL_FIELDS
            else expand_env(value, on_problem, env, allowed_prefixes, path + (key,))
            for key, value in data.items()
        }
    if isinstance(data, list):
        return [
            expand_env(value, on_problem, env, allowed_prefixes, path + (index,))
            for index, value in enumerate(data)
        ]
    if not isinstance(data, str) or "${" not in data:
        return data

    def substitute(match: re.Match[str]) -> str:
        name, default = match.group(1), match.group(2)
        if not name.startswith(allowed_prefixes):
            on_problem(
                path,
                f"environment variable ${{{name}}} may not be used: only names starting with "
                f"{', '.join(allowed_prefixes)} are expanded ([ml_provider] allowed_env_prefixes)",
            )
            return match.group(0)
        if name in env:
            return env[name]
        if default is not None:
            return default
        on_problem(path, f"environment variable ${{{name}}} is not set")
        return match.group(0)

    return _VARIABLE.sub(substitute, data)


def template_problems(data: Any, path: FieldPath = ()) -> list[tuple[FieldPath, str]]:
    """Each string outside TEMPLATED_FIELDS that holds Jinja syntax: YAML values are data,
    and a template in, say, a source path would be rendered with the task's context (which
    reaches connections and variables) at run time."""
    if any(path[: len(prefix)] == prefix for prefix in TEMPLATED_FIELDS):
        return []
    if len(path) == 1 and path[0] in LITERAL_FIELDS:  # shown as text, never rendered
        return []
    if isinstance(data, dict):
        return [p for key, value in data.items() for p in template_problems(value, path + (key,))]
    if isinstance(data, list):
        return [p for i, value in enumerate(data) for p in template_problems(value, path + (i,))]
    if isinstance(data, str) and _JINJA.search(data):
        return [
            (
                path,
                "Jinja templates ({{ ... }}, {% ... %}) are not allowed here: YAML values are "
                "used as written (only alerts.notifiers kwargs are templates)",
            )
        ]
    return []
