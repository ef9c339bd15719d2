"""Send a process's own stdout/stderr (file descriptors 1 and 2) to a file for a while."""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import TextIO


@contextlib.contextmanager
def redirect_output(log_path: Path) -> Iterator[TextIO]:
    """Append everything written to fds 1 and 2 (Airflow's and libraries' logs) to a file.

    Works at the descriptor level, so it also catches handlers that captured sys.stdout
    before the redirect and output of child processes. Yields the terminal's stderr, for the
    few lines a person must see while it lasts (e.g. that the run waits for another).
    """
    log_path.parent.mkdir(parents=True, exist_ok=True)
    sys.stdout.flush()
    sys.stderr.flush()
    saved = os.dup(1), os.dup(2)
    with open(log_path, "ab") as sink, os.fdopen(os.dup(saved[1]), "w") as terminal:
        os.dup2(sink.fileno(), 1)
        os.dup2(sink.fileno(), 2)
        try:
            yield terminal
        finally:
            terminal.flush()
            sys.stdout.flush()
            sys.stderr.flush()
            os.dup2(saved[0], 1)
            os.dup2(saved[1], 2)
            os.close(saved[0])
            os.close(saved[1])
