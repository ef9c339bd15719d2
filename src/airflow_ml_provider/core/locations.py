"""Where data lives, spelled one way: URI schemes and local paths made URIs. No imports from
the project: the spec, the hooks and the CLI read locations through here."""

from __future__ import annotations

import os
import re
from pathlib import Path

LOCAL_SCHEMES = ("file", "local")
"""Schemes that name local files (fsspec's ``local://`` too): held to the roots."""
REMOTE_SCHEMES = ("gs", "gcs", "s3", "s3a", "abfs", "abfss", "az", "bigquery")
"""Schemes governed by their connections instead of the roots."""
SCHEME_PATTERN = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]*)://")


def normalise_uri(value: str) -> str:
    """The one spelling of a location YAML names: the scheme case-folded, ``local://`` and
    any case of ``file://`` as ``file://``; a plain path and an unknown scheme as written
    (``scheme_problem`` refuses the latter)."""
    found = SCHEME_PATTERN.match(value)
    if found is None:
        return value
    scheme, rest = found.group(1).lower(), value[found.end() :]
    return f"file://{rest}" if scheme in LOCAL_SCHEMES else f"{scheme}://{rest}"


def resolve_path(value: str, base_dir: Path) -> str:
    """Turn a path into a URI: relative paths resolve against the YAML file's folder.

    A trailing slash (a prefix source) and glob characters are kept as written; a URI's
    scheme is normalised (``roots.normalise_uri``: ``FILE://`` and ``local://`` are local).
    """
    value = normalise_uri(value)
    if value.startswith("file://"):
        value = value.removeprefix("file://")
    if "://" in value:
        return value
    candidate = Path(value).expanduser()
    if not candidate.is_absolute():
        candidate = base_dir / candidate
    # Not Path.as_uri(): its percent-encoding would turn glob characters into literals.
    uri = "file://" + Path(os.path.normpath(candidate)).as_posix()
    return uri + "/" if value.endswith("/") and not uri.endswith("/") else uri
