"""Local files a pipeline may read or write: only below allowed roots.

A YAML author names data, schema and pod-template files; the process that parses and runs
the pipeline can read far more (``/etc/passwd``, Airflow's own config, other teams' data).
Every local path the spec names must resolve (symlinks and ``..`` followed) inside one of
the roots: the pipeline file's own folder, the DAGs folder, the artifact store and
``[ml_provider] allowed_data_roots``. Remote URIs (gs://, s3://, ...) are governed by their
connections instead.
"""

from __future__ import annotations

import os
from pathlib import Path

from airflow_ml_provider.core.formats import before_glob
from airflow_ml_provider.core.locations import (
    LOCAL_SCHEMES,
    REMOTE_SCHEMES,
    SCHEME_PATTERN,
    normalise_uri,
)


def scheme_of(uri: str) -> str | None:
    """The scheme of ``uri`` as ``normalise_uri`` spells it (None for a plain path)."""
    found = SCHEME_PATTERN.match(normalise_uri(uri))
    return None if found is None else found.group(1)


def scheme_problem(uri: str) -> str | None:
    """Why ``uri``'s scheme is refused (None for a plain path or a known scheme)."""
    found = SCHEME_PATTERN.match(uri)
    if found is None or found.group(1).lower() in (*LOCAL_SCHEMES, *REMOTE_SCHEMES):
        return None
    return f"unknown URI scheme {found.group(1)!r}; expected a path or one of " + ", ".join(
        f"{s}://" for s in ("file", *REMOTE_SCHEMES)
    )


def local_path(uri: str) -> Path | None:
    """The local path of a file:// URI or plain path (up to its first glob character), or
    None for a remote URI."""
    uri = normalise_uri(uri)
    if "://" in uri and not uri.startswith("file://"):
        return None
    path = uri.removeprefix("file://")
    static = before_glob(path)
    if static != path:  # a glob: the folder it matches in
        static = static.rsplit("/", 1)[0] or "/"
    return Path(static or "/")


def inside(path: Path, roots: tuple[Path, ...]) -> bool:
    """Whether ``path`` (resolved, symlinks followed) is one of ``roots`` or below one."""
    real = Path(os.path.realpath(path))
    return any(real.is_relative_to(Path(os.path.realpath(root))) for root in roots)


def outside_roots(
    named: dict[tuple[str | int, ...], str | None], roots: tuple[Path, ...]
) -> list[tuple[tuple[str | int, ...], str]]:
    """``(field path, message)`` for each named local path that is outside every root."""
    problems = []
    for field, uri in named.items():
        problem = scheme_problem(uri) if uri else None
        if problem is not None:
            problems.append((field, problem))
            continue
        path = local_path(uri) if uri else None
        if path is not None and not inside(path, roots):
            problems.append(
                (
                    field,
                    "local files must be inside the pipeline's folder, the DAGs folder, the "
                    "artifact store or [ml_provider] allowed_data_roots; this path is not",
                )
            )
    return problems
