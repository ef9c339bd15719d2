"""MkDocs hook: the YAML field reference (reference/fields.md) rendered from the pipeline
JSON Schema — the same schema `airflow-ml schema` prints and editors validate against — so
the reference cannot drift from what the loader accepts."""

from __future__ import annotations

import json
from collections import deque
from typing import Any

PLACEHOLDER = "<!-- fields -->"


def _ref_name(ref: str) -> str:
    return ref.rsplit("/", 1)[-1]


def _type(node: dict[str, Any], sections: dict[str, str]) -> str:
    """A short type: a link for an object section, ``a | b`` for alternatives."""
    if "$ref" in node:
        name = _ref_name(node["$ref"])
        return f"[{sections[name]}](#{_anchor(sections[name])})" if name in sections else name
    if "anyOf" in node or "oneOf" in node:
        options = [_type(option, sections) for option in node.get("anyOf", node.get("oneOf"))]
        return " \\| ".join(dict.fromkeys(option for option in options if option != "null"))
    if "enum" in node:
        return " \\| ".join(f"`{json.dumps(value)}`" for value in node["enum"])
    if "const" in node:
        return f"`{json.dumps(node['const'])}`"
    kind = node.get("type", "any")
    if kind == "array":
        return f"list of {_type(node.get('items', {}), sections)}"
    if kind == "object" and isinstance(node.get("additionalProperties"), dict):
        return f"mapping of {_type(node['additionalProperties'], sections)}"
    return " \\| ".join(kind) if isinstance(kind, list) else str(kind)


def _anchor(path: str) -> str:
    return "field-" + path.replace(".", "-").replace("<", "").replace(">", "")


def _children(node: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """Sub-schemas that may hold object definitions, with the path step that leads there."""
    found = []
    for option in node.get("anyOf", []) + node.get("oneOf", []):
        found += _children(option) or [("", option)]
    if node.get("type") == "array":
        found.append(("[]", node.get("items", {})))
    extra = node.get("additionalProperties")
    if isinstance(extra, dict):
        found.append((".<name>", extra))
    return found


def render(schema: dict[str, Any]) -> str:
    definitions = schema.get("$defs", {})
    sections: dict[str, str] = {}  # definition name -> the YAML path it is documented at
    queue: deque[tuple[str, dict[str, Any]]] = deque([("(top level)", schema)])
    order: list[tuple[str, dict[str, Any]]] = []
    while queue:
        path, node = queue.popleft()
        order.append((path, node))
        for name, field in node.get("properties", {}).items():
            prefix = "" if path == "(top level)" else f"{path}."
            for step, sub in [("", field), *_children(field)]:
                if "$ref" in sub and _ref_name(sub["$ref"]) not in sections:
                    ref = _ref_name(sub["$ref"])
                    sections[ref] = f"{prefix}{name}{step}"
                    queue.append((sections[ref], definitions[ref]))
    out = []
    for path, node in order:
        out.append(f'<a id="{_anchor(path)}"></a>\n\n## `{path}`\n')
        if node.get("description"):
            out.append(" ".join(node["description"].split()) + "\n")
        required = set(node.get("required", []))
        rows = ["| field | type | default | description |", "|---|---|---|---|"]
        for name, field in node.get("properties", {}).items():
            default = "*required*" if name in required else f"`{json.dumps(field.get('default'))}`"
            if name not in required and "default" not in field:
                default = ""
            text = " ".join(str(field.get("description", "")).split()).replace("|", "\\|")
            rows.append(f"| `{name}` | {_type(field, sections)} | {default} | {text} |")
        out.append("\n".join(rows) + "\n")
    return "\n".join(out)


def on_page_markdown(markdown: str, page, config, files) -> str:
    if PLACEHOLDER not in markdown:
        return markdown
    from airflow_ml_provider.pipeline_spec.json_schema import json_schema

    return markdown.replace(PLACEHOLDER, render(json_schema()))
