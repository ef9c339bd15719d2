"""skops.io, imported without flooding task logs.

On import, skops looks up every scipy ufunc (objects without ``__module__``) in every loaded
module with ``getattr(module, name, None)``. In a process that has loaded Airflow, some of
those modules are Airflow's deprecation shims (``airflow.utils.timezone``, ...), which
warn on any attribute looked up — 1,160 DeprecatedImportWarning lines per task that loads or
logs a model, while nothing uses a deprecated path. The scan happens once per process, at
import: importing skops here, through one function, silences warnings attributed to that
scan only (no other warning of any module is hidden). No Airflow imports.
"""

from __future__ import annotations

import sys
import warnings
from types import ModuleType


def skops_io() -> ModuleType:
    """The ``skops.io`` module, imported once per process with its module scan quiet."""
    loaded = sys.modules.get("skops.io")
    if loaded is not None:
        return loaded
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", module=r"skops\.io\._utils")
        import skops.io
    return skops.io
