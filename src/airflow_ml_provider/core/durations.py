"""Durations as people write them in YAML: ``90s``, ``5m``, ``2h``, ``1d``, ``1h30m``."""

from __future__ import annotations

import re
from datetime import timedelta

_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}
_DURATION = re.compile(r"^\s*(?:(\d+(?:\.\d+)?)\s*([smhdw])\s*)+$")
_PART = re.compile(r"(\d+(?:\.\d+)?)\s*([smhdw])")


def parse_duration(value: object) -> timedelta:
    """Parse a duration; a bare number means seconds. Raise ValueError with what was expected."""
    if isinstance(value, timedelta):
        return value
    if isinstance(value, bool):
        raise ValueError(_expected(value))
    if isinstance(value, int | float):
        if value < 0:
            raise ValueError(_expected(value))
        return _bounded(value, seconds=value)
    if isinstance(value, str) and _DURATION.match(value):
        parts: dict[str, float] = {}
        for amount, unit in _PART.findall(value):
            parts[_UNITS[unit]] = parts.get(_UNITS[unit], 0) + float(amount)
        return _bounded(value, **parts)
    raise ValueError(_expected(value))


def _bounded(value: object, **parts: float) -> timedelta:
    """A timedelta, or ValueError (not OverflowError) for one too large to represent."""
    try:
        return timedelta(**parts)
    except OverflowError:
        raise ValueError(f"{value!r} is too long a duration (at most 999999999 days)") from None


def format_duration(value: timedelta) -> str:
    """The shortest readable form of a duration (``5m``, ``1h30m``)."""
    seconds = int(value.total_seconds())
    out = ""
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60), ("s", 1)):
        if seconds >= size:
            out += f"{seconds // size}{unit}"
            seconds %= size
    return out or "0s"


def _expected(value: object) -> str:
    return (
        f"{value!r} is not a duration; expected a number of seconds or a string such as "
        "'30s', '5m', '2h', '1d' or '1h30m'"
    )
