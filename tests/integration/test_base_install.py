"""The base install (no extras) in a virtual environment of its own, built by uv from the
repository's uv.lock exactly as `pip install airflow-ml-provider` resolves it — no Google,
Kubernetes, Amazon or Optuna packages: the local-files pipeline runs end to end, and a
pipeline that needs a missing extra is refused at its YAML line with the pip command, by
`airflow-ml check` and by the DAG processor's loader (a config-error DAG)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from helpers.paths import EXAMPLE_YAML, REPO
from helpers.pipelines import write_pipeline

UV = [shutil.which("uv") or "python3", *([] if shutil.which("uv") else ["-m", "uv"])]


@pytest.fixture(scope="module")
def base_env(tmp_path_factory) -> Path:
    """A venv with the locked base requirements and this package (editable, no deps)."""
    folder = tmp_path_factory.mktemp("base") / "venv"
    exported = subprocess.run(
        [*UV, "export", "--frozen", "--no-hashes", "--no-dev", "--no-emit-project", "-q"],
        capture_output=True,
        text=True,
        check=True,
        cwd=REPO,
    ).stdout
    requirements = folder.parent / "requirements.txt"
    requirements.write_text(exported)
    subprocess.run([*UV, "venv", "-q", str(folder)], check=True)
    python = str(folder / "bin" / "python")
    install = [*UV, "pip", "install", "-q", "--python", python]
    subprocess.run([*install, "-r", str(requirements)], check=True)
    subprocess.run([*install, "--no-deps", "-e", str(REPO)], check=True)
    return folder


LIST_DISTRIBUTIONS = "import importlib.metadata as m; print([d.name for d in m.distributions()])"
POD = "  runner: kubernetes\n  kubernetes: {image: registry.example.com/ml/t:1}\n"
ALLOWED_IMAGE = {"AIRFLOW__ML_PROVIDER__ALLOWED_IMAGES": "registry.example.com/ml/"}


def in_base(env: Path, cwd: Path, *args: str) -> subprocess.CompletedProcess:
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW", "VIRTUAL_ENV"))}
    clean.update(ALLOWED_IMAGE)
    return subprocess.run(
        [str(env / "bin" / "airflow-ml"), *args], capture_output=True, text=True, cwd=cwd, env=clean
    )


def test_the_base_install_has_no_cloud_and_runs_a_local_pipeline(base_env, tmp_path):
    python = str(base_env / "bin" / "python")
    listed = subprocess.run(
        [python, "-c", LIST_DISTRIBUTIONS], capture_output=True, text=True, check=True
    ).stdout
    for absent in ("apache-airflow-providers-google", "apache-airflow-providers-cncf-kubernetes"):
        assert f"'{absent}'" not in listed
    assert "'optuna'" not in listed and "'kubernetes'" not in listed
    pipeline = write_pipeline(tmp_path, "base_run")
    done = in_base(base_env, tmp_path, "run", "--json", str(pipeline))
    assert done.returncode == 0, done.stderr[-3000:]
    summary = json.loads(done.stdout)
    assert (summary["state"], summary["promoted"]) == ("success", True)
    # `airflow providers hooks` lists ours and no hook that fails to import (the Google
    # provider's gcpssh and leveldb rows did, when it was a hard dependency).
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW", "VIRTUAL_ENV"))}
    env["AIRFLOW_HOME"] = str(tmp_path / ".airflow-ml")
    hooks = subprocess.run(
        [str(base_env / "bin" / "airflow"), "providers", "hooks", "-o", "json"],
        capture_output=True, text=True, env=env, check=True,
    ).stdout  # fmt: skip
    rows = json.loads(hooks)
    assert "mlflow" in {row["connection_type"] for row in rows}
    assert [row for row in rows if "Error when importing" in json.dumps(row)] == []


def test_a_pipeline_that_needs_a_missing_extra_is_refused_at_its_line(base_env, tmp_path):
    pipeline = write_pipeline(tmp_path, "needs_k8s")
    text = pipeline.read_text().replace("  runner: local\n", POD)
    pipeline.write_text(text)
    line = text.splitlines().index("  runner: kubernetes") + 1
    done = in_base(base_env, tmp_path, "check", "--fast", str(pipeline))
    assert done.returncode == 1
    expected = (
        f"needs_k8s.yaml:{line}:11: training.runner: runner kubernetes needs Kubernetes "
        "support, which is not installed: pip install 'airflow-ml-provider[kubernetes]'"
    )
    assert expected in done.stdout, done.stdout + done.stderr
    search = (
        "  runner: local\n  search: {method: optuna, n_trials: 2, params: {max_depth: [2, 4]}}\n"
    )
    pipeline.write_text(text.replace(POD, search))
    done = in_base(base_env, tmp_path, "check", "--fast", str(pipeline))
    assert "pip install 'airflow-ml-provider[optuna]'" in done.stdout, done.stdout + done.stderr
    # The DAG processor's loader: a config-error DAG with the same message, the others load.
    folder = tmp_path / "dags"
    folder.mkdir()
    (folder / "needs_k8s.yaml").write_text(text)
    (folder / "fine.yaml").write_text(
        EXAMPLE_YAML.read_text().replace("pipeline: breast_cancer_ct", "pipeline: fine")
    )
    script = (
        "from airflow_ml_provider.factory.loader import load_dags;"
        "import sys, json; dags = load_dags(sys.argv[1]);"
        "print(json.dumps({k: (d.description or '') for k, d in dags.items()}))"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("AIRFLOW")}
    env.update(ALLOWED_IMAGE, AIRFLOW_HOME=str(tmp_path / "home"))
    loaded = subprocess.run(
        [str(base_env / "bin" / "python"), "-c", script, str(folder)],
        capture_output=True,
        text=True,
        env=env,
    )
    assert loaded.returncode == 0, loaded.stderr[-2000:]
    dags = json.loads(loaded.stdout.strip().splitlines()[-1])
    assert "fine" in dags
    (broken,) = [k for k in dags if k.startswith("config_error__")]
    assert "airflow-ml-provider[kubernetes]" in dags[broken]


def test_the_wheel_ships_the_json_schema_templates_and_assets(tmp_path):
    """`uv build` of the package: the wheel holds airflow_ml_provider/pipeline.schema.json,
    the repository's file, with its $id, every default mail template and the Data Docs
    assets."""
    import zipfile

    subprocess.run([*UV, "build", "-q", "--wheel", "-o", str(tmp_path), str(REPO)], check=True)
    (wheel,) = tmp_path.glob("*.whl")
    with zipfile.ZipFile(wheel) as archive:
        shipped = json.loads(archive.read("airflow_ml_provider/pipeline.schema.json"))
        names = set(archive.namelist())
        templates = {
            name.rsplit("/", 1)[1]
            for name in archive.namelist()
            if name.startswith("airflow_ml_provider/notifications/templates/")
        }
    package = REPO / "src" / "airflow_ml_provider" / "notifications" / "templates"
    assert templates == {path.name for path in package.iterdir()} and "promotion.html" in templates
    # ...and the Data Docs assets the plugin serves offline, each CDN file of the map.
    from airflow_ml_provider.ui.data_docs_assets import CDN_ASSETS

    for name in CDN_ASSETS.values():
        assert f"airflow_ml_provider/ui/static/datadocs/{name}" in names, name
    assert shipped == json.loads((REPO / "pipeline.schema.json").read_text())
    assert shipped["$id"].startswith("urn:airflow-ml-provider:pipeline:")
