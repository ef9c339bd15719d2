"""Load YAML safely while remembering where every key and value came from."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from airflow_ml_provider.pipeline_spec.errors import SpecError, SpecProblem, format_path

FieldPath = tuple[str | int, ...]

# libyaml's C parser is ~6x faster than the pure-Python one; parse time is sacred.
SafeLoader: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

MAX_FILE_BYTES = 1_000_000
"""A pipeline file is a page or two of YAML; a bigger one is refused before it is parsed."""
MAX_DEPTH = 40
"""Mappings and lists nested deeper than this are refused (a pipeline needs about 6)."""
MAX_NODES = 20_000
"""Values a file may expand to, aliases counted each time they are used: refuses alias
bombs ("billion laughs") before they are built."""


@dataclass(frozen=True)
class Mark:
    """A 1-based position in a file."""

    file: str
    line: int
    column: int


@dataclass
class PositionedDocument:
    """Plain YAML data plus the position of each key and each value, by field path."""

    data: Any
    file: str
    values: dict[FieldPath, Mark] = field(default_factory=dict)
    keys: dict[FieldPath, Mark] = field(default_factory=dict)
    built: int = 0
    """Values constructed so far (aliases counted at each use)."""

    def mark_for(self, path: FieldPath, *, prefer_key: bool = False) -> Mark:
        """The most precise known position for ``path`` (falls back to its parents)."""
        probe = tuple(path)
        while True:
            table = (self.keys, self.values) if prefer_key else (self.values, self.keys)
            for positions in table:
                if probe in positions:
                    return positions[probe]
            if not probe:
                return Mark(self.file, 1, 1)
            probe = probe[:-1]


def _mark(file: str, node: yaml.Node) -> Mark:
    return Mark(file, node.start_mark.line + 1, node.start_mark.column + 1)


def _construct(
    node: yaml.Node, path: FieldPath, doc: PositionedDocument, loader: yaml.SafeLoader
) -> Any:
    doc.built += 1
    if doc.built > MAX_NODES:
        raise SpecError(
            [
                _problem(
                    doc,
                    node,
                    path,
                    f"the file expands to more than {MAX_NODES:,} values (aliases are "
                    "counted each time they are used); a pipeline needs a few hundred",
                )
            ]
        )
    if len(path) > MAX_DEPTH:
        message = f"nested more than {MAX_DEPTH} levels deep; a pipeline needs about 6"
        raise SpecError([_problem(doc, node, path[:MAX_DEPTH], message)])
    doc.values[path] = _mark(doc.file, node)
    if isinstance(node, yaml.MappingNode):
        loader.flatten_mapping(node)  # resolves YAML merge keys (<<: *anchor)
        result: dict[Any, Any] = {}
        for key_node, value_node in node.value:
            key = loader.construct_object(key_node, deep=True)
            if isinstance(key, bool) and isinstance(key_node, yaml.ScalarNode):
                key = key_node.value  # YAML 1.1 reads `on:` as true; keys here are names
            if isinstance(key, list | dict):
                raise SpecError(
                    [_problem(doc, key_node, path, "a mapping key must be a plain value")]
                )
            if key in result:
                raise SpecError(
                    [
                        _problem(
                            doc, key_node, path + (key,), "this key appears twice in one mapping"
                        )
                    ]
                )
            doc.keys[path + (key,)] = _mark(doc.file, key_node)
            result[key] = _construct(value_node, path + (key,), doc, loader)
        return result
    if isinstance(node, yaml.SequenceNode):
        return [_construct(item, path + (i,), doc, loader) for i, item in enumerate(node.value)]
    try:
        return loader.construct_object(node, deep=True)
    except (ValueError, OverflowError, TypeError) as exc:  # e.g. 2026-01-01T25:99:00
        message = f"cannot read {node.value!r}: {exc}"
        raise SpecError([_problem(doc, node, path, message)]) from None


def _problem(
    doc: PositionedDocument, node: yaml.Node, path: FieldPath, message: str
) -> SpecProblem:
    mark = _mark(doc.file, node)
    return SpecProblem(mark.file, mark.line, mark.column, format_path(path), message)


_BLOCK_INDICATORS = ("- ", "? ", ": ")
_INDICATOR_RUN = re.compile(r"(?:[-?:] +){20}")
"""Twenty block indicators in a row: the only way a line nests deeply without brackets."""


def nesting_beyond(text: str, limit: int) -> tuple[int, int] | None:
    """``(line, column)`` where ``text`` first nests deeper than ``limit`` — flow collections
    (``[``, ``{``) outside quotes and comments, or block indicators (``- - - x``) opening on one
    line — or None. One pass over the characters, no recursion: PyYAML's C composer recurses
    once per level and crashes the process (SIGSEGV) on tens of thousands of them, before any
    depth check on the parsed nodes could run. A quote opens a quoted scalar only after an
    indicator or at the start of a line (not in ``rock 'n roll``) and ends with its line at
    the latest, so no quote can hide brackets from this scan."""
    if text.count("[") + text.count("{") <= limit and not _INDICATOR_RUN.search(text):
        return None  # cannot nest that deep: the usual file, decided at C speed
    depth, quote, previous = 0, "", ""
    line, line_start = 1, 0
    index, size = 0, len(text)
    at_line_start = True
    while index < size:
        char = text[index]
        if char == "\n":
            line, line_start, at_line_start = line + 1, index + 1, True
            quote, previous = "", ""
            index += 1
            continue
        if quote:
            if char == "\\" and quote == '"':
                index += 2
                continue
            if char == quote and not (quote == "'" and text.startswith("''", index)):
                quote, previous = "", char
            index += 2 if quote == "'" and text.startswith("''", index) else 1
            continue
        if at_line_start and char not in " \t":
            at_line_start = False
            indicators, probe = 0, index
            while text.startswith(_BLOCK_INDICATORS, probe):
                indicators, probe = indicators + 1, probe + 2
                while probe < size and text[probe] == " ":
                    probe += 1
            if indicators > limit:
                return line, index - line_start + 1
        if char == "#" and (index == line_start or text[index - 1] in " \t"):
            end = text.find("\n", index)
            index = size if end < 0 else end
            continue
        if char in "\"'" and previous in ("", *"[{,:-?"):
            quote = char
        elif char in "[{":
            depth += 1
            if depth > limit:
                return line, index - line_start + 1
        elif char in "]}":
            depth = max(depth - 1, 0)
        if char not in " \t":
            previous = char
        index += 1
    return None


def load_positioned(path: Path, display_name: str | None = None) -> PositionedDocument:
    """Read ``path`` with PyYAML's safe loader; raise SpecError with file:line:col on bad YAML."""
    name = display_name or str(path)
    try:
        size = path.stat().st_size
        if size > MAX_FILE_BYTES:
            message = (
                f"the file is {size:,} bytes; pipeline files are limited to {MAX_FILE_BYTES:,}"
            )
            raise SpecError([SpecProblem(name, 1, 1, "", message)])
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise SpecError([SpecProblem(name, 1, 1, "", f"cannot read the file: {exc}")]) from None
    doc = PositionedDocument(data=None, file=name)
    too_deep = nesting_beyond(text, MAX_DEPTH)
    if too_deep is not None:  # before libyaml's C parser, which recursion can crash
        message = f"invalid YAML: nested more than {MAX_DEPTH} levels deep"
        raise SpecError([SpecProblem(name, *too_deep, "", message)])
    loader = SafeLoader(text)
    try:
        node = loader.get_single_node()
        if node is not None:
            doc.data = _construct(node, (), doc, loader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line, column = (mark.line + 1, mark.column + 1) if mark else (1, 1)
        what = " ".join(part for part in (exc.context, exc.problem) if part)
        raise SpecError([SpecProblem(name, line, column, "", f"invalid YAML: {what}")]) from None
    except yaml.YAMLError as exc:
        raise SpecError([SpecProblem(name, 1, 1, "", f"invalid YAML: {exc}")]) from None
    except RecursionError:  # nesting too deep for the YAML composer itself
        message = f"invalid YAML: nested more than {MAX_DEPTH} levels deep"
        raise SpecError([SpecProblem(name, 1, 1, "", message)]) from None
    finally:
        loader.dispose()
    return doc
