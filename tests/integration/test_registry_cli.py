"""`airflow-ml history` and `airflow-ml rollback` on a real MLflow registry (SQLite store,
local artifacts) holding three versions of a real scikit-learn model."""

from __future__ import annotations

import json

import pytest

MODEL = "churn_registry"


@pytest.fixture
def registry(tmp_path):
    """Versions 1, 2, 3 promoted one after the other by "the pipeline"."""
    import mlflow
    from sklearn.datasets import load_iris
    from sklearn.linear_model import LogisticRegression

    from airflow_ml_provider.ml.integrity.model_files import record_digest
    from airflow_ml_provider.ml.registry.aliases import promote

    uri = f"sqlite:///{tmp_path}/mlflow.db"
    mlflow.set_tracking_uri(uri)
    mlflow.set_experiment("registry")
    x, y = load_iris(return_X_y=True, as_frame=True)
    client = mlflow.MlflowClient(tracking_uri=uri, registry_uri=uri)
    client.create_registered_model(MODEL)
    for c in (0.1, 1.0, 10.0):
        with mlflow.start_run() as run:
            info = mlflow.sklearn.log_model(
                LogisticRegression(C=c, max_iter=500).fit(x, y),
                name="model",
                input_example=x.head(3),
                pip_requirements=["scikit-learn"],
                serialization_format="skops",
            )
            record_digest(info.model_uri)  # as training records it
        version = client.create_model_version(
            MODEL, info.model_uri, run_id=run.info.run_id, model_id=info.model_id
        ).version
        promote(client, MODEL, version, actor="airflow:churn/run-" + str(version), reason="gate")
    return uri, client


def cli(*argv: str) -> int:
    from airflow_ml_provider.cli import main

    return main(list(argv))


def aliases(client) -> dict[str, str]:
    return {k: str(v) for k, v in client.get_registered_model(MODEL).aliases.items()}


def test_history_lists_every_alias_move_in_order(registry, capsys):
    uri, client = registry
    assert cli("history", MODEL, "--tracking-uri", uri, "--json") == 0
    rows = json.loads(capsys.readouterr().out)
    moves = [(r["alias"], r["from"], r["to"], r["actor"]) for r in rows]
    assert moves == [
        ("champion", None, "1", "airflow:churn/run-1"),
        ("previous", None, "1", "airflow:churn/run-2"),
        ("champion", "1", "2", "airflow:churn/run-2"),
        ("previous", "1", "2", "airflow:churn/run-3"),
        ("champion", "2", "3", "airflow:churn/run-3"),
    ]
    assert rows[3]["reason"] == "replaced by version 3"

    # Promoting the champion again (a retried task) records nothing new.
    from airflow_ml_provider.ml.registry.aliases import history, promote

    promote(client, MODEL, "3", actor="airflow:churn/run-3", reason="gate")
    assert len(history(client, MODEL)) == 5

    assert cli("history", MODEL, "--tracking-uri", uri) == 0
    table = capsys.readouterr().out.splitlines()
    assert table[0].startswith("when (UTC)") and len(table) == 6
    assert "champion" in table[-1] and "2 -> 3" in table[-1]


def test_rollback_restores_previous_then_any_version(registry, capsys):
    uri, client = registry
    assert cli("rollback", MODEL, "--tracking-uri", uri, "--reason", "bad predictions") == 0
    out = capsys.readouterr().out
    assert "champion 3 -> 2" in out and "loads and predicts" in out
    assert aliases(client) == {"champion": "2"}  # previous pointed at 2: now the champion
    assert "airflow_ml.rolled_back_at" in client.get_model_version(MODEL, "3").tags

    from airflow_ml_provider.ml.registry.aliases import history

    last = history(client, MODEL)[-2:]
    assert [(r["alias"], r["from"], r["to"]) for r in last] == [
        ("champion", "3", "2"),
        ("previous", "2", None),
    ]
    assert last[0]["reason"] == "rollback: bad predictions"
    assert last[0]["actor"].startswith("cli:")

    assert cli("rollback", MODEL, "--tracking-uri", uri) == 2  # no previous any more
    assert "has no 'previous' version to roll back to; pass a version with --to" in (
        capsys.readouterr().err
    )
    assert cli("rollback", MODEL, "--tracking-uri", uri, "--to", "1") == 0
    assert aliases(client)["champion"] == "1"
    assert cli("rollback", MODEL, "--tracking-uri", uri, "--to", "9") == 2
    assert "has no version 9 (versions: 1, 2, 3)" in capsys.readouterr().err
    assert cli("rollback", MODEL, "--tracking-uri", uri, "--to", "1") == 2
    assert "version 1 of churn_registry is already the champion" in capsys.readouterr().err
    assert cli("rollback", MODEL, "--tracking-uri", uri, "--to", "3", "--json") == 0
    done = json.loads(capsys.readouterr().out)
    assert (done["model"], done["from"], done["to"], done["error"]) == (MODEL, "1", "3", None)
    assert cli("rollback", MODEL, "--tracking-uri", uri, "--to", "9", "--json") == 2
    assert json.loads(capsys.readouterr().out)["error"].startswith(f"{MODEL} has no version 9")


def test_unknown_model_is_an_error(registry, capsys):
    uri, _ = registry
    assert cli("history", "no_such_model", "--tracking-uri", uri) == 2
    assert "no_such_model" in capsys.readouterr().err


def test_promotion_is_a_compare_and_set_on_the_judged_champion(registry):
    """Two runs judged against champion v3: the first promotes v4; the second (v5) was
    never compared with v4 and is refused, saying which champion it found; a retry of the
    first promotion is not a move."""
    from airflow_ml_provider.ml.registry.aliases import ChampionMoved, history, promote

    _, client = registry
    for _ in range(2):
        run_id = client.get_model_version(MODEL, "3").run_id
        client.create_model_version(MODEL, f"runs:/{run_id}/model", run_id=run_id)
    assert promote(client, MODEL, "4", actor="run-a", reason="gate", judged_against=3) == "3"
    with pytest.raises(ChampionMoved) as caught:
        promote(client, MODEL, "5", actor="run-b", reason="gate", judged_against=3)
    assert str(caught.value) == (
        "the champion of churn_registry is version 4, not version 3 as when the gate judged "
        "version 5: not promoted (the next run is judged against version 4)"
    )
    assert aliases(client)["champion"] == "4" and aliases(client)["previous"] == "3"
    assert promote(client, MODEL, "4", actor="run-a", reason="retry", judged_against=3) is None
    assert [row["to"] for row in history(client, MODEL) if row["alias"] == "champion"][-1] == "4"


def test_local_runs_of_one_pipeline_take_turns(tmp_path, monkeypatch):
    """A second local run of the same pipeline waits for the first's lock (real processes,
    real flock on $AIRFLOW_HOME/locks)."""
    import subprocess
    import sys

    monkeypatch.setenv("AIRFLOW_HOME", str(tmp_path))
    holder = (
        "import sys, time\n"
        "from airflow_ml_provider.cli.local_run import one_run_at_a_time\n"
        "with one_run_at_a_time('churn_ct'):\n"
        "    print('held', time.time(), flush=True); time.sleep(float(sys.argv[1]))\n"
    )
    first = subprocess.Popen([sys.executable, "-c", holder, "3"], stdout=subprocess.PIPE, text=True)
    held = float(first.stdout.readline().split()[1])
    waiter = (
        "import time\n"
        "from airflow_ml_provider.cli.local_run import one_run_at_a_time\n"
        "with one_run_at_a_time('churn_ct'):\n"
        "    print('got it', time.time(), flush=True)\n"
    )
    second = subprocess.run(
        [sys.executable, "-c", waiter], capture_output=True, text=True, timeout=60
    )
    first.wait(timeout=30)
    assert "another local run of churn_ct is running; waiting for it" in second.stderr
    assert float(second.stdout.split()[2]) >= held + 3.0  # only after the first let go


def iris_version(client, example_columns: int | None) -> str:
    """A new verified version of MODEL: iris LogisticRegression, its input example the first
    ``example_columns`` columns (None: logged without an input example)."""
    import mlflow
    from sklearn.datasets import load_iris
    from sklearn.linear_model import LogisticRegression

    from airflow_ml_provider.ml.integrity.model_files import record_digest

    x, y = load_iris(return_X_y=True, as_frame=True)
    example = None if example_columns is None else x.head(3).iloc[:, :example_columns]
    with mlflow.start_run() as run:
        info = mlflow.sklearn.log_model(
            LogisticRegression(max_iter=500).fit(x, y),
            name="model",
            input_example=example,
            pip_requirements=["scikit-learn"],
            serialization_format="skops",
        )
        record_digest(info.model_uri)
    return client.create_model_version(
        MODEL, info.model_uri, run_id=run.info.run_id, model_id=info.model_id
    ).version


def test_a_rollback_whose_model_cannot_serve_is_refused_before_anything_moves(registry, capsys):
    """'previous' is version 4, whose model cannot predict on its own input example (fitted
    on four features, the example has three). The rollback loads it and asks it to predict
    before champion moves: it fails, nothing moves: exit 1, saying why."""
    from airflow_ml_provider.ml.registry.aliases import history, promote

    uri, client = registry
    broken = iris_version(client, example_columns=3)
    promote(client, MODEL, broken, actor="test", reason="looked fine")
    promote(client, MODEL, "3", actor="test", reason="back to 3")
    assert aliases(client) == {"champion": "3", "previous": str(broken)}

    moves_before = history(client, MODEL)
    assert cli("rollback", MODEL, "--tracking-uri", uri) == 1
    error = capsys.readouterr().err
    assert f"alias serving of {MODEL} could not roll back to version {broken}" in error
    assert "nothing moved: champion stays version 3" in error
    # The target is loaded and asked to predict before champion moves: no alias moved at all.
    assert aliases(client) == {"champion": "3", "previous": str(broken)}
    assert history(client, MODEL) == moves_before
    assert "airflow_ml.rolled_back_at" not in client.get_model_version(MODEL, "3").tags


def test_a_rollback_to_a_model_without_an_input_example_says_it_only_loaded(registry, capsys):
    """'previous' is a version logged without an input example: the rollback loads it
    (verified) before champion moves, and says it only loaded — not that it predicted."""
    from airflow_ml_provider.ml.registry.aliases import promote

    uri, client = registry
    bare = iris_version(client, example_columns=None)
    promote(client, MODEL, bare, actor="test", reason="no example")
    promote(client, MODEL, "3", actor="test", reason="back to 3")

    assert cli("rollback", MODEL, "--tracking-uri", uri) == 0
    out = capsys.readouterr().out
    assert f"version {bare} loads (it has no input example to predict on)" in out
    assert "predicts on its input example" not in out
    assert aliases(client)["champion"] == str(bare)


def test_rollback_serves_as_the_pipeline_file_says(registry, tmp_path, capsys):
    """--pipeline FILE.yaml: the deployer comes from the file's deployment section (here the
    alias strategy); a file that deploys another model is refused before anything moves."""
    from helpers.spec_files import GOOD, write

    uri, client = registry
    other = write(tmp_path, GOOD)  # registry.model_name: churn
    assert cli("rollback", MODEL, "--tracking-uri", uri, "--pipeline", str(other)) == 2
    assert f"{other} deploys churn, not {MODEL}" in capsys.readouterr().err
    assert aliases(client) == {"champion": "3", "previous": "2"}

    ours = write(tmp_path, GOOD.replace("model_name: churn", f"model_name: {MODEL}"), "ours.yaml")
    assert cli("rollback", MODEL, "--tracking-uri", uri, "--pipeline", str(ours)) == 0
    assert "alias serving follows: version 2" in capsys.readouterr().out
    assert aliases(client) == {"champion": "2"}


def test_a_deployment_record_that_is_not_one_moves_nothing(registry, capsys):
    """The champion's `airflow_ml.deployment` tag is not JSON (edited by hand, or by someone
    who may write tags): the rollback says so and moves nothing (exit 2)."""
    uri, client = registry
    client.set_model_version_tag(MODEL, "3", "airflow_ml.deployment", "{kubernetes")
    assert cli("rollback", MODEL, "--tracking-uri", uri) == 2
    error = capsys.readouterr().err
    assert f"the tag airflow_ml.deployment on version 3 of {MODEL} is not a deployment" in error
    assert "pass --pipeline FILE.yaml" in error
    assert aliases(client) == {"champion": "3", "previous": "2"}

    client.set_model_version_tag(
        MODEL, "3", "airflow_ml.deployment", '{"strategy": "os.system", "settings": {}}'
    )
    assert cli("rollback", MODEL, "--tracking-uri", uri) == 2
    assert "unknown deployment strategy 'os.system'" in capsys.readouterr().err
    assert aliases(client) == {"champion": "3", "previous": "2"}


def test_the_registry_commands_find_mlflow_as_tasks_do(registry, tmp_path, monkeypatch, capsys):
    """No --tracking-uri: the Airflow connection (mlflow_default, or the pipeline file's
    registry.mlflow_conn_id) through Airflow's own lookup, here an AIRFLOW_CONN_ variable;
    the command says which store it read. Without a connection and without the embedded
    store, an error — and no empty store is created."""
    from helpers.spec_files import GOOD, write

    uri, client = registry
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    home = tmp_path / "home"
    monkeypatch.setenv("AIRFLOW_HOME", str(home))
    embedded = home / "mlflow.db"

    monkeypatch.delenv("AIRFLOW_CONN_MLFLOW_DEFAULT", raising=False)
    assert cli("history", MODEL) == 2
    error = capsys.readouterr().err
    assert "no MLflow store to read: there is no Airflow connection 'mlflow_default'" in error
    assert not embedded.exists()

    connection = json.dumps({"conn_type": "mlflow", "extra": {"tracking_uri": uri}})
    monkeypatch.setenv("AIRFLOW_CONN_MLFLOW_DEFAULT", connection)
    assert cli("history", MODEL, "--json") == 0
    captured = capsys.readouterr()
    assert f"MLflow store: {uri} (Airflow connection mlflow_default)" in captured.err
    assert len(json.loads(captured.out)) == 5
    assert not embedded.exists()

    # A pipeline whose registry uses its own connection: rollback reads that one.
    monkeypatch.delenv("AIRFLOW_CONN_MLFLOW_DEFAULT")
    monkeypatch.setenv("AIRFLOW_CONN_MLFLOW_TEAM", connection)
    text = GOOD.replace("model_name: churn", f"model_name: {MODEL}\n  mlflow_conn_id: mlflow_team")
    ours = write(tmp_path, text)
    assert cli("rollback", MODEL, "--pipeline", str(ours)) == 0
    assert "(Airflow connection mlflow_team)" in capsys.readouterr().err
    assert aliases(client) == {"champion": "2"}
