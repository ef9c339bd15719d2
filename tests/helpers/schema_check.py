"""Validate a pipeline file against the shipped JSON Schema as an editor does: YAML read by
yaml-language-server's rules for scalars (a date stays a string), jsonschema's 2020-12
validator."""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path

import yaml

from helpers.paths import REPO


class EditorLoader(yaml.SafeLoader):
    """PyYAML's safe loader without its timestamp resolver (editors keep dates as text)."""


EditorLoader.add_constructor(  # !!binary is base64 text in JSON terms, not bytes
    "tag:yaml.org,2002:binary", lambda loader, node: loader.construct_scalar(node)
)
EditorLoader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


@cache
def validator():
    from jsonschema import Draft202012Validator

    return Draft202012Validator(json.loads((REPO / "pipeline.schema.json").read_text()))


def schema_errors(path: Path) -> list[str] | None:
    """The schema's complaints about ``path`` (empty: valid), or None when the file is not
    a YAML mapping at all (the schema has nothing to say)."""
    try:
        document = yaml.load(path.read_text(), Loader=EditorLoader)  # noqa: S506 (safe)
    except (yaml.YAMLError, RecursionError, ValueError):
        return None
    if not isinstance(document, dict):
        return None
    return [f"{'.'.join(map(str, e.path))}: {e.message}" for e in validator().iter_errors(document)]
