"""Asset conditions written in YAML, e.g. ``gs://etl/a & (gs://etl/b | source)``, parsed
without eval: ``&`` (all of), ``|`` (any of, binds looser than ``&``), parentheses, and
asset URIs; the word ``source`` stands for the pipeline's data source."""

from __future__ import annotations

import re
from collections.abc import Callable

from airflow_ml_provider.core.errors import AirflowMlError

SOURCE = "source"
_TOKEN = re.compile(r"\s*(?:(?P<op>[&|()])|(?P<uri>[^\s&|()]+))")

Condition = str | tuple[str, list["Condition"]]
"""A URI (or ``source``), or ("all" | "any", [conditions])."""


class ConditionError(AirflowMlError, ValueError):
    """An asset condition that cannot be parsed; the message says where and what was expected."""


def _tokens(text: str) -> list[tuple[str, int]]:
    tokens, position = [], 0
    while position < len(text):
        match = _TOKEN.match(text, position)
        if match is None:  # only trailing whitespace is left
            break
        value = match.group("op") or match.group("uri")
        if value is None:
            break
        tokens.append((value, match.start(match.lastgroup or 0)))
        position = match.end()
    return tokens


def parse_condition(text: str) -> Condition:
    """The condition tree of ``text``; ConditionError naming the character position."""
    tokens = _tokens(text)
    if not tokens:
        raise ConditionError("expected at least one asset URI")
    parser = _Parser(tokens, len(text))
    tree = parser.any_of()
    if parser.index < len(tokens):
        value, position = tokens[parser.index]
        raise ConditionError(f"unexpected {value!r} at character {position + 1}")
    return tree


class _Parser:
    def __init__(self, tokens: list[tuple[str, int]], length: int) -> None:
        self.tokens = tokens
        self.index = 0
        self.length = length

    def _peek(self) -> str | None:
        return self.tokens[self.index][0] if self.index < len(self.tokens) else None

    def any_of(self) -> Condition:
        return self._joined("|", "any", self.all_of)

    def all_of(self) -> Condition:
        return self._joined("&", "all", self.operand)

    def _joined(self, operator: str, kind: str, part: Callable[[], Condition]) -> Condition:
        """``part (operator part)*``: one part as is, several as (kind, parts)."""
        parts = [part()]
        while self._peek() == operator:
            self.index += 1
            parts.append(part())
        return parts[0] if len(parts) == 1 else (kind, parts)

    def operand(self) -> Condition:
        if self.index >= len(self.tokens):
            raise ConditionError(
                f"expected an asset URI or '(' at character {self.length + 1} (end of text)"
            )
        value, position = self.tokens[self.index]
        self.index += 1
        if value == "(":
            inner = self.any_of()
            if self._peek() != ")":
                raise ConditionError(f"the '(' at character {position + 1} is never closed")
            self.index += 1
            return inner
        if value in "&|)":
            raise ConditionError(
                f"expected an asset URI or '(' at character {position + 1}, got {value!r}"
            )
        if value != SOURCE and "://" not in value:
            raise ConditionError(
                f"{value!r} at character {position + 1} is not an asset URI "
                f"(scheme://...) or the word {SOURCE!r}"
            )
        return value


def uris(condition: Condition) -> list[str]:
    """Every URI the condition names, in order."""
    if isinstance(condition, str):
        return [condition]
    return [uri for part in condition[1] for uri in uris(part)]
