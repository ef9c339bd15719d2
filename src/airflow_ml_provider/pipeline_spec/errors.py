"""Errors a person can act on: every problem names file, line, column and field path."""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from dataclasses import dataclass

from airflow_ml_provider.core.errors import AirflowMlError


@dataclass(frozen=True)
class SpecProblem:
    """One problem in one pipeline file."""

    file: str
    line: int
    column: int
    path: str
    message: str

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}:{self.column}"
        return f"{where}: {self.path}: {self.message}" if self.path else f"{where}: {self.message}"


class SpecError(AirflowMlError, ValueError):
    """A pipeline file is invalid; ``problems`` lists every problem found."""

    def __init__(self, problems: Iterable[SpecProblem]):
        self.problems = list(problems)
        super().__init__("\n".join(str(p) for p in self.problems))

    @classmethod
    def unexpected(cls, file: object, exc: BaseException) -> SpecError:
        """Any other failure while loading one file, as that file's error (never a
        traceback, never the whole folder)."""
        text = " ".join(str(exc).split())[:300]
        message = f"cannot load this file: {type(exc).__name__}" + (f": {text}" if text else "")
        return cls([SpecProblem(str(file), 1, 1, "", message)])

    @property
    def file(self) -> str:
        return self.problems[0].file if self.problems else ""


def did_you_mean(word: str, candidates: Iterable[str]) -> str:
    """Return "; did you mean 'x'?" for the closest candidate, or an empty string."""
    matches = difflib.get_close_matches(word, list(candidates), n=1, cutoff=0.6)
    return f"; did you mean '{matches[0]}'?" if matches else ""


def format_path(parts: Iterable[object]) -> str:
    """Render a field path the way a YAML author reads it: ``validation.expectations[2]``."""
    text = ""
    for part in parts:
        if isinstance(part, int):
            text += f"[{part}]"
        else:
            text += f".{part}" if text else str(part)
    return text
