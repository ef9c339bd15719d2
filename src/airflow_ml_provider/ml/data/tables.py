"""Small tables (lists of records) as CSV artifacts."""

from __future__ import annotations

from typing import Any


def records_csv(rows: list[dict[str, Any]], fields: list[str] | None = None) -> str:
    """Records as CSV text: the given columns (others ignored), or every key in first-seen
    order."""
    import csv
    import io

    columns = fields or list(dict.fromkeys(key for row in rows for key in row))
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=columns, extrasaction="ignore")
    writer.writeheader()
    writer.writerows(rows)
    return out.getvalue()
