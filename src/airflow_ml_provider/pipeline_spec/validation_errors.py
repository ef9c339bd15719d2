"""Pydantic's validation errors as pipeline-file problems: at the field's position, in
words a YAML author reads (a typo named with its likely fix, one line per problem)."""

from __future__ import annotations

import re
from typing import Any, get_args

from pydantic import BaseModel, ValidationError
from pydantic_core import ErrorDetails

from airflow_ml_provider.pipeline_spec.errors import SpecProblem, did_you_mean, format_path
from airflow_ml_provider.pipeline_spec.models import PipelineSpec
from airflow_ml_provider.pipeline_spec.positions import FieldPath, PositionedDocument


def problem_at(
    doc: PositionedDocument, field: FieldPath, message: str, prefer_key: bool = False
) -> SpecProblem:
    """A problem at ``field``'s position in ``doc`` (its key's with ``prefer_key``)."""
    mark = doc.mark_for(field, prefer_key=prefer_key)
    return SpecProblem(mark.file, mark.line, mark.column, format_path(field), message)


def _clean_loc(data: Any, loc: tuple[Any, ...]) -> tuple[FieldPath, bool]:
    """Keep the part of a pydantic loc that exists in the data (drops union-member tags).

    Returns the path and whether its last part is absent from the data (missing/unknown key).
    """
    path: list[str | int] = []
    current = data
    for part in loc:
        if isinstance(current, dict):
            path.append(part)
            if part not in current:
                return tuple(path), True
            current = current[part]
        elif isinstance(current, list) and isinstance(part, int) and part < len(current):
            path.append(part)
            current = current[part]
        else:
            break
    return tuple(path), False


def _model_at(path: FieldPath) -> type[BaseModel] | None:
    model: Any = PipelineSpec
    for part in path:
        fields = {f.alias or n: f for n, f in model.model_fields.items()}
        field = fields.get(part) if isinstance(part, str) else None
        annotation = field.annotation if field else None
        # `Model | None` fields: the model is the one non-None member of the union
        members = [a for a in get_args(annotation) if a is not type(None)] or [annotation]
        if len(members) == 1 and isinstance(members[0], type) and issubclass(members[0], BaseModel):
            model = members[0]
        else:
            return None
    return model


def from_validation_error(
    doc: PositionedDocument, data: Any, exc: ValidationError
) -> list[SpecProblem]:
    problems: list[SpecProblem] = []
    seen: set[str] = set()
    errors = exc.errors(include_url=False)
    for error in errors:
        if error["loc"] and error["loc"][-1] == "[key]":  # a mapping key that is not allowed
            path, _ = _clean_loc(data, error["loc"][:-1])
            allowed = re.findall(r"'([^']+)'", str((error.get("ctx") or {}).get("expected", "")))
            hint = did_you_mean(str(path[-1]), allowed) or (
                f"; expected one of {', '.join(allowed)}" if allowed else ""
            )
            problems.append(
                problem_at(doc, path, f"unknown key {path[-1]!r}{hint}", prefer_key=True)
            )
            continue
        path, absent = _clean_loc(data, error["loc"])
        key = format_path(path)
        if key in seen:
            continue  # several union members failing on one value: report the value once
        seen.add(key)
        kind = error["type"]
        if kind == "extra_forbidden":
            model = _model_at(path[:-1])
            known = [f.alias or n for n, f in model.model_fields.items()] if model else []
            hint = did_you_mean(str(path[-1]), known) or (
                f"; expected one of {', '.join(known)}" if known else ""
            )
            problems.append(
                problem_at(doc, path, f"unknown key {path[-1]!r}{hint}", prefer_key=True)
            )
        elif kind == "missing" and _explained_by_typo(data, path, errors):
            continue
        elif kind == "missing" or absent:
            mark = doc.mark_for(path[:-1], prefer_key=True)
            message = f"missing required field {path[-1]!r}" if path else "missing"
            problems.append(SpecProblem(mark.file, mark.line, mark.column, key, message))
        else:
            problems.append(problem_at(doc, path, _humanize(error)))
    return problems


def _explained_by_typo(data: Any, path: FieldPath, errors: list[ErrorDetails]) -> bool:
    """A missing field next to an unknown key that is its misspelling: report the typo only."""
    for error in errors:
        if error["type"] != "extra_forbidden":
            continue
        extra, _ = _clean_loc(data, error["loc"])
        if extra[:-1] == path[:-1] and did_you_mean(str(extra[-1]), [str(path[-1])]):
            return True
    return False


_TYPE_WORDS = {
    "dict_type": "a mapping",
    "model_type": "a mapping",
    "model_attributes_type": "a mapping",
    "list_type": "a list",
    "string_type": "a string",
    "int_type": "an integer",
    "int_parsing": "an integer",
    "int_from_float": "an integer",
    "float_type": "a number",
    "float_parsing": "a number",
    "bool_type": "true or false",
    "bool_parsing": "true or false",
    "date_type": "a date such as 2026-01-01",
    "date_parsing": "a date such as 2026-01-01",
    "date_from_datetime_parsing": "a date such as 2026-01-01",
    "datetime_type": "a date such as 2026-01-01",
    "datetime_parsing": "a date such as 2026-01-01",
    "datetime_from_date_parsing": "a date such as 2026-01-01",
}


def _describe(value: Any) -> str:
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    return repr(value)


def _humanize(error: ErrorDetails) -> str:
    kind = error["type"]
    if kind in _TYPE_WORDS:
        return f"expected {_TYPE_WORDS[kind]}, got {_describe(error.get('input'))}"
    message = str(error["msg"])
    if kind == "value_error":
        return message.removeprefix("Value error, ")
    if kind == "literal_error":
        return f"got {_describe(error.get('input'))}; {message[0].lower()}{message[1:]}"
    return f"{message[0].lower()}{message[1:]} (got {_describe(error.get('input'))})"
