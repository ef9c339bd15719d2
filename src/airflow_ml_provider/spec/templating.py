"""``${ENV_VAR}`` and ``${ENV_VAR:-default}`` expansion in YAML strings."""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Mapping
from typing import Any

_VARIABLE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")

FieldPath = tuple[str | int, ...]


def expand_env(
    data: Any,
    on_missing: Callable[[FieldPath, str], None],
    environ: Mapping[str, str] | None = None,
    path: FieldPath = (),
) -> Any:
    """Return ``data`` with variables expanded in every string; report unset ones."""
    env = os.environ if environ is None else environ
    if isinstance(data, dict):
        return {k: expand_env(v, on_missing, env, path + (k,)) for k, v in data.items()}
    if isinstance(data, list):
        return [expand_env(v, on_missing, env, path + (i,)) for i, v in enumerate(data)]
    if not isinstance(data, str) or "${" not in data:
        return data

    def substitute(match: re.Match[str]) -> str:
        name, default = match.group(1), match.group(2)
        if name in env:
            return env[name]
        if default is not None:
            return default
        on_missing(path, name)
        return match.group(0)

    return _VARIABLE.sub(substitute, data)
