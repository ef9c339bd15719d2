"""A 64-bit hash of each row, built a column at a time: the duplicate-row guard without the
whole table in memory (8 bytes a row)."""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

    from airflow_ml_provider.ml.data.column_tables import ColumnTable

_GOLDEN = 0x9E3779B97F4A7C15
"""2⁶⁴ divided by the golden ratio: spreads the column positions' multipliers over 64 bits."""


class RowHashes:
    """Each row's hash: the sum over columns of the column's value hash (pandas'
    hash_pandas_object, which hashes a categorical like its values) times an odd number of
    its own per column position, modulo 2⁶⁴. A sum, so columns may be added in any order and
    from several threads; a position's own multiplier, so swapped values do not collide."""

    def __init__(self, rows: int) -> None:
        import numpy as np

        self.values: np.ndarray = np.zeros(rows, dtype="uint64")
        self._lock = threading.Lock()

    def add(self, series: pd.Series, position: int) -> None:
        """Add the column at ``position`` (its place in the table)."""
        import numpy as np
        import pandas as pd

        part = pd.util.hash_pandas_object(series, index=False).to_numpy(dtype="uint64", copy=True)
        part *= np.uint64((_GOLDEN * (2 * position + 1)) % 2**64 | 1)
        with self._lock:
            self.values += part

    def duplicate_share(self) -> float:
        """The share of rows whose hash an earlier row has: sorted in place and equal
        neighbours counted (no hash table beside the hashes). A false match needs a hash
        collision (~n²/2⁶⁵). The hashes are consumed."""
        import numpy as np

        if len(self.values) == 0:
            return 0.0
        self.values.sort()
        return float(np.count_nonzero(self.values[1:] == self.values[:-1]) / len(self.values))


def table_row_hashes(table: ColumnTable) -> RowHashes:
    """The hashes of every row of ``table``, reading one column at a time."""
    hashes = RowHashes(table.rows)
    for position, name in enumerate(table.names):
        hashes.add(table.column(name), position)
    return hashes
