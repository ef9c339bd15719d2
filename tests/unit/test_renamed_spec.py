"""``airflow_ml_provider.spec`` was renamed ``pipeline_spec`` (issue 36): the old name still
imports, warns, and gives the same module objects, so hand-written DAGs and plugins that
import it keep working; nothing of ours imports the old name."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import airflow_ml_provider

OLD_IMPORTS = """
import warnings
warnings.simplefilter("error", DeprecationWarning)
import airflow_ml_provider.pipeline_spec.loader as new_loader
from airflow_ml_provider.pipeline_spec.models import PipelineSpec
warnings.simplefilter("ignore", DeprecationWarning)
with warnings.catch_warnings(record=True) as caught:
    warnings.simplefilter("always")
    from airflow_ml_provider.spec import SpecError
    from airflow_ml_provider.spec.models import PipelineSpec as OldSpec
    import airflow_ml_provider.spec.loader as old_loader
assert OldSpec is PipelineSpec
assert old_loader is new_loader and old_loader.__name__.endswith("pipeline_spec.loader")
try:
    new_loader.load_pipeline(__import__("pathlib").Path("/nonexistent/pipeline.yaml"))
except SpecError:
    pass
print([str(w.message) for w in caught if w.category is DeprecationWarning])
"""


def test_the_old_name_warns_and_gives_the_same_modules():
    done = subprocess.run(
        [sys.executable, "-c", OLD_IMPORTS], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    assert "airflow_ml_provider.spec is renamed airflow_ml_provider.pipeline_spec" in done.stdout


def test_nothing_of_ours_imports_the_old_name():
    root = Path(airflow_ml_provider.__file__).parent
    tests = root.parents[1] / "tests"
    users = [
        path
        for folder in (root, tests)
        for path in folder.rglob("*.py")
        if "airflow_ml_provider.spec." in path.read_text()
        or "airflow_ml_provider.spec " in path.read_text()
        if path.parent.name != "spec" and path.name != "test_renamed_spec.py"
    ]
    assert users == []
