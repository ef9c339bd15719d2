"""What the data hook and every source reader share: the error, the batch size, and how
timestamps and queries are said. Imports nothing of the hooks, so readers and the hook do
not import each other."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from airflow_ml_provider.core.errors import AirflowMlError

BATCH_ROWS = 64 * 1024  # rows per batch read from parquet files and SQL cursors
_DESCRIBE_QUERY_CHARS = 60


class DataSourceError(AirflowMlError, ValueError):
    """A source that cannot be snapshotted: nothing matched, an empty file, 0 rows, bad schema."""

    # Named by its public home, where users import it from (as numpy's set_module does):
    # logs and failure mails say airflow_ml_provider.hooks.data.DataSourceError.
    __module__ = "airflow_ml_provider.hooks.data"


def to_epoch(value: Any) -> float | None:
    """A timestamp-ish value as epoch seconds: datetime (naive = UTC), date, number, ISO string."""
    if value is None:
        return None
    if isinstance(value, bool):
        raise TypeError(f"expected a timestamp or a number, got {value!r}")
    if isinstance(value, int | float | Decimal):
        return float(value)
    if isinstance(value, dt.datetime):
        aware = value if value.tzinfo else value.replace(tzinfo=dt.UTC)
        return aware.timestamp()
    if isinstance(value, dt.date):
        return dt.datetime(value.year, value.month, value.day, tzinfo=dt.UTC).timestamp()
    if hasattr(value, "to_pydatetime"):  # pandas / numpy timestamps
        return to_epoch(value.to_pydatetime())
    if isinstance(value, bytes):
        value = value.decode()
    if isinstance(value, str):
        text = value.strip()
        try:
            return float(text)
        except ValueError:
            pass
        try:
            return to_epoch(dt.datetime.fromisoformat(text.replace("Z", "+00:00")))
        except ValueError:
            raise ValueError(f"{value!r} is neither a timestamp nor a number") from None
    raise TypeError(f"expected a timestamp or a number, got {type(value).__name__} {value!r}")


def shorten(query: str) -> str:
    """A query on one line, cut to a length that fits in a message."""
    flat = " ".join(query.split())
    return flat if len(flat) <= _DESCRIBE_QUERY_CHARS else flat[: _DESCRIBE_QUERY_CHARS - 3] + "..."
