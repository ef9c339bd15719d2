"""A table the data checks read a column at a time.

``validate_data`` checks a snapshot column by column (schema, drift profile, drift scores,
row hashes for the duplicate-row guard) and gives Great Expectations only the columns its
expectations name: a parquet snapshot (``ParquetColumns``) is never held whole, so memory
follows the columns read, not the table. An in-memory DataFrame (``FrameColumns``) answers
the same questions, so both go through the same checks.
"""

from __future__ import annotations

import threading
from typing import IO, TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    import pandas as pd


class ColumnTable(Protocol):
    """Rows and named columns, read on demand."""

    names: list[Any]
    rows: int
    parallel: bool
    """Whether ``column`` may be called from several threads at once."""

    def column(self, name: Any) -> pd.Series:
        """One column, whole."""
        ...

    def frame(self, names: list[Any]) -> pd.DataFrame:
        """These columns (none: an empty frame with ``rows`` rows)."""
        ...


class FrameColumns:
    """A DataFrame already in memory."""

    parallel = True

    def __init__(self, frame: pd.DataFrame) -> None:
        self._frame = frame
        self.names = list(frame.columns)
        self.rows = len(frame)
        # Taken here, on the caller's thread: a DataFrame's column cache is not thread-safe.
        self._columns = dict(frame.items())

    def column(self, name: Any) -> pd.Series:
        return self._columns[name]

    def frame(self, names: list[Any]) -> pd.DataFrame:
        if names == self.names:
            return self._frame
        if not names:
            return self._frame.iloc[:, :0]
        return self._frame[names]


class ParquetColumns:
    """A parquet file (a local path or an open binary stream), read column by column."""

    def __init__(self, source: str | IO[bytes]) -> None:
        import pyarrow.parquet as pq

        self._source = source
        self._file = pq.ParquetFile(source, pre_buffer=False)
        self.names = list(self._file.schema_arrow.names)
        self.rows = int(self._file.metadata.num_rows)
        # A path is opened anew by each read, so columns can be read on several threads; one
        # open stream is read by one thread at a time.
        self.parallel = isinstance(source, str)
        self._lock = threading.Lock()

    def column(self, name: str) -> pd.Series:
        return self.frame([name])[name]

    def frame(self, names: list[str]) -> pd.DataFrame:
        import pandas as pd
        import pyarrow.parquet as pq

        if not names:
            return pd.DataFrame(index=pd.RangeIndex(self.rows))
        if self.parallel:
            assert isinstance(self._source, str)
            table = pq.read_table(self._source, columns=names, pre_buffer=False)
        else:
            with self._lock:
                table = self._file.read(columns=names)
        # self_destruct frees each Arrow column once converted (as read_frame does).
        return table.to_pandas(self_destruct=True, split_blocks=True)


def as_table(data: pd.DataFrame | ColumnTable) -> ColumnTable:
    """``data`` as a ColumnTable (a DataFrame is wrapped in ``FrameColumns``)."""
    import pandas as pd

    return FrameColumns(data) if isinstance(data, pd.DataFrame) else data
