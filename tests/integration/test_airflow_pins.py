"""Next to Airflow: the provider's base install resolved together with Airflow gets every
package at the version Airflow alone resolves to, except the three MLflow caps (named below).

Both sides are resolved fresh by uv against PyPI with the same ``--exclude-newer`` date, so a
later release on PyPI changes neither; the stale versions a lock file keeps are not counted."""

from __future__ import annotations

import re
import shutil
import subprocess
import tomllib

from packaging.version import Version

from helpers.paths import REPO

UV = [shutil.which("uv") or "python3", *([] if shutil.which("uv") else ["-m", "uv"])]
RESOLVED_AT = "2026-12-06T00:00:00Z"
MLFLOW_CAPS = {
    "cachetools": "mlflow-skinny and mlflow-tracing 3.17 require cachetools<8",
    "importlib-metadata": "mlflow-skinny 3.17 requires importlib_metadata<10",
    "cryptography": "mlflow 3.17 requires cryptography<51",
}
"""Where the base install gets an older version than Airflow alone: MLflow's own upper
bounds, which this project cannot lift (MLflow is its registry and model format)."""


def _locked_airflow() -> str:
    lock = tomllib.loads((REPO / "uv.lock").read_text())
    return next(p["version"] for p in lock["package"] if p["name"] == "apache-airflow")


def _resolve(tmp_path, name: str, requirements: list[str]) -> dict[str, Version]:
    source = tmp_path / f"{name}.in"
    source.write_text("\n".join(requirements) + "\n")
    done = subprocess.run(
        [*UV, "pip", "compile", str(source), "--python-version", "3.11", "--quiet",
         "--exclude-newer", RESOLVED_AT, "--no-annotate", "--no-header"],
        capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    found = re.findall(r"^([A-Za-z0-9_.\-]+)(?:\[[^\]]*\])?==(\S+)", done.stdout, re.MULTILINE)
    return {name.lower().replace("_", "-"): Version(version) for name, version in found}


def test_the_base_install_downgrades_nothing_airflow_resolves_but_mlflows_caps(tmp_path):
    airflow = f"apache-airflow=={_locked_airflow()}"
    alone = _resolve(tmp_path, "alone", [airflow])
    together = _resolve(tmp_path, "together", [airflow, f"airflow-ml-provider @ {REPO.as_uri()}"])
    downgraded = {
        name: (str(alone[name]), str(together[name]))
        for name in alone
        if name in together and together[name] < alone[name]
    }
    assert set(downgraded) <= set(MLFLOW_CAPS), downgraded
    assert together["apache-airflow"] == alone["apache-airflow"]


def test_the_oldest_supported_airflow_is_the_one_every_test_runs_on():
    """pyproject's lower bound is the minor of the Airflow the lock (and so CI) installs:
    a claim of support for an older minor would be untested."""
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    (bound,) = [d for d in project["dependencies"] if d.startswith("apache-airflow>")]
    oldest = re.search(r">=\s*(\d+\.\d+)", bound).group(1)
    locked = Version(_locked_airflow())
    assert oldest == f"{locked.major}.{locked.minor}", (bound, str(locked))
