"""Deprecated: ``airflow_ml_provider.spec`` is now ``airflow_ml_provider.pipeline_spec``.

"spec" reads as "test file" to common tooling; the YAML contract was renamed. Importing the
old name (or any module under it) warns once and gives the very same module objects, so
``isinstance`` checks and ``except SpecError`` keep working. The alias will be removed in a
later release.
"""

from __future__ import annotations

import importlib
import importlib.abc
import importlib.machinery
import sys
import warnings
from types import ModuleType

from airflow_ml_provider.pipeline_spec import (
    LoadedPipeline,
    PipelineSpec,
    SpecError,
    SpecProblem,
    load_pipeline,
)

OLD_NAME = __name__
NEW_NAME = "airflow_ml_provider.pipeline_spec"

__all__ = ["LoadedPipeline", "PipelineSpec", "SpecError", "SpecProblem", "load_pipeline"]

warnings.warn(
    f"{OLD_NAME} is renamed {NEW_NAME}; import it from there (the old name will be removed)",
    DeprecationWarning,
    stacklevel=2,
)


class _RenamedModules(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    """``airflow_ml_provider.spec.<module>`` as the already imported
    ``airflow_ml_provider.pipeline_spec.<module>`` (one module object under both names)."""

    def find_spec(
        self, fullname: str, path: object = None, target: object = None
    ) -> importlib.machinery.ModuleSpec | None:
        if not fullname.startswith(OLD_NAME + "."):
            return None
        return importlib.machinery.ModuleSpec(fullname, self)

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> ModuleType:
        return importlib.import_module(NEW_NAME + spec.name.removeprefix(OLD_NAME))

    def exec_module(self, module: ModuleType) -> None:
        """Already executed under its new name."""


if not any(isinstance(finder, _RenamedModules) for finder in sys.meta_path):
    sys.meta_path.insert(0, _RenamedModules())
