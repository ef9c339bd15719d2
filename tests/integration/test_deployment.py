"""AliasDeploymentOperator on its own, through dag.test() (real Airflow DB, real MLflow store):
a promoted version that cannot serve is rolled back to the previous champion, and the move
is in the registry's history."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import mlflow.pyfunc

MODEL = "deploy_rollback"
CANNOT_SERVE = Path(__file__).parent / "models" / "cannot_serve.py"


def register(client, python_model: Path | None = None, model_name: str = MODEL) -> str:
    """A model version of an iris classifier, or of the models-from-code file ``python_model``
    (its digest recorded, as training does, so it is loaded at all)."""
    from sklearn.datasets import load_iris
    from sklearn.linear_model import LogisticRegression

    from airflow_ml_provider.ml.integrity.model_files import record_digest

    x, y = load_iris(return_X_y=True, as_frame=True)
    with mlflow.start_run() as run:
        if python_model is None:
            info = mlflow.sklearn.log_model(
                LogisticRegression(max_iter=500).fit(x, y),
                name="model",
                input_example=x.head(3),
                serialization_format="skops",
                pip_requirements=["scikit-learn"],
            )
            record_digest(info.model_uri)
        else:
            info = mlflow.pyfunc.log_model(
                name="model",
                python_model=str(python_model),
                input_example=x.head(3),
                pip_requirements=["scikit-learn"],
            )
            record_digest(info.model_uri)
    return str(
        client.create_model_version(
            model_name, info.model_uri, run_id=run.info.run_id, model_id=info.model_id
        ).version
    )


def test_a_version_that_cannot_serve_is_rolled_back(airflow_db):
    from airflow.sdk import DAG

    from airflow_ml_provider.cli.airflow_compat import serialize_dag
    from airflow_ml_provider.hooks.mlflow import MlflowHook
    from airflow_ml_provider.ml.registry.aliases import history, promote
    from airflow_ml_provider.operators.deployment import AliasDeploymentOperator

    client = MlflowHook().get_conn()
    mlflow.set_experiment("deploy-rollback")
    client.create_registered_model(MODEL)
    good, bad = register(client), register(client, CANNOT_SERVE)
    promote(client, MODEL, good, actor="test", reason="first")
    assert promote(client, MODEL, bad, actor="test", reason="gate passed") == good

    errors: list[BaseException] = []
    start = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    with DAG("deploy_rollback", schedule=None, start_date=start) as dag:
        AliasDeploymentOperator(
            task_id="deploy_model",
            registration={"promoted": True, "version": int(bad), "previous_champion": int(good)},
            model_name=MODEL,
            on_failure_callback=lambda context: errors.append(context["exception"]),
        )
    serialize_dag(dag)
    dag_run = dag.test()
    assert dag_run.state == "failed"
    (error,) = errors
    assert f"smoke test of models:/{MODEL}@champion failed, rolled back" in str(error)
    assert "column 'tenure' is missing" in str(error)

    aliases = {k: str(v) for k, v in client.get_registered_model(MODEL).aliases.items()}
    assert aliases == {"champion": good}  # previous held the restored version: removed
    last = history(client, MODEL)[-2:]
    assert [(r["alias"], r["from"], r["to"]) for r in last] == [
        ("champion", bad, good),
        ("previous", good, None),
    ]
    assert last[0]["reason"].startswith(f"rollback: smoke test of version {bad} failed")
    assert last[0]["actor"] == f"airflow:deploy_rollback/{dag_run.run_id}"
    assert "airflow_ml.rolled_back_at" in client.get_model_version(MODEL, bad).tags


def test_registry_operators_in_a_hand_written_dag(airflow_db):
    """PromoteModelOperator, SetModelAliasOperator and RollbackModelOperator used on their
    own: promote v1 then v2, tag v2 as 'staging', roll back; the history names the DAG run."""
    from airflow.sdk import DAG

    from airflow_ml_provider.cli.airflow_compat import serialize_dag
    from airflow_ml_provider.hooks.mlflow import MlflowHook
    from airflow_ml_provider.ml.registry.aliases import history
    from airflow_ml_provider.operators.registry import (
        PromoteModelOperator,
        RollbackModelOperator,
        SetModelAliasOperator,
    )

    client = MlflowHook().get_conn()
    mlflow.set_experiment("registry-operators")
    name = "hand_written_registry"
    client.create_registered_model(name)
    first, second = register(client, model_name=name), register(client, model_name=name)
    start = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    with DAG("registry_ops", schedule=None, start_date=start) as dag:
        (
            PromoteModelOperator(task_id="promote_first", model_name=name, version=first)
            >> PromoteModelOperator(task_id="promote_second", model_name=name, version=second)
            >> SetModelAliasOperator(
                task_id="stage", model_name=name, alias="staging", version=second
            )
            >> RollbackModelOperator(task_id="roll_back", model_name=name, reason="canary lost")
        )
    serialize_dag(dag)
    dag_run = dag.test()
    assert dag_run.state == "success"
    aliases = {k: str(v) for k, v in client.get_registered_model(name).aliases.items()}
    assert aliases == {"champion": first, "staging": second}
    moves = [(r["alias"], r["from"], r["to"], r["reason"]) for r in history(client, name)]
    assert moves[-2:] == [
        ("champion", second, first, "rollback: canary lost"),
        ("previous", first, None, f"version {first} is champion again"),
    ]
    assert {r["actor"] for r in history(client, name)} == {f"airflow:registry_ops/{dag_run.run_id}"}


class FakeBigQueryWrites:
    """Stand-in for google.cloud.bigquery.Client where BigQueryHook.get_client() returns it
    (BigQuery cannot run here): a parameterised DELETE of one run's rows and load jobs that
    append a DataFrame, on tables kept as pandas frames."""

    def __init__(self):
        self.tables, self.calls = {}, []

    class _Job:
        def result(self):
            return None

    def query(self, sql, job_config=None, location=None):
        from google.api_core.exceptions import NotFound

        (parameter,) = job_config.query_parameters
        self.calls.append(("query", sql, parameter.name, parameter.value))
        table = sql.split("`")[1]
        if table not in self.tables:
            raise NotFound(f"Table {table} was not found")
        frame = self.tables[table]
        self.tables[table] = frame[frame["dag_run_id"] != parameter.value]
        return self._Job()

    def load_table_from_dataframe(self, frame, table, job_config=None):
        import pandas as pd

        self.calls.append(("load", table, job_config.write_disposition, len(frame)))
        self.tables[table] = pd.concat([self.tables.get(table), frame], ignore_index=True)
        return self._Job()


def test_batch_predictions_to_bigquery_replace_the_runs_rows(airflow_db, tmp_path, monkeypatch):
    """BatchScoringOperator with a bigquery:// destination, two DAG runs: each run's rows
    land once with the champion's version, and each run first deletes rows carrying its own
    run id (what makes a retry replace instead of append)."""
    import json

    from airflow.providers.google.cloud.hooks.bigquery import BigQueryHook
    from airflow.sdk import DAG
    from sklearn.datasets import load_iris

    from airflow_ml_provider.cli.airflow_compat import serialize_dag
    from airflow_ml_provider.hooks.mlflow import MlflowHook
    from airflow_ml_provider.ml.registry.aliases import promote
    from airflow_ml_provider.operators.batch_scoring import BatchScoringOperator

    monkeypatch.setenv(
        "AIRFLOW_CONN_GOOGLE_CLOUD_DEFAULT",
        json.dumps(
            {
                "conn_type": "google_cloud_platform",
                "extra": {"project": "proj", "is_anonymous": True},
            }
        ),
    )
    fake = FakeBigQueryWrites()
    monkeypatch.setattr(BigQueryHook, "get_client", lambda self, **kwargs: fake)
    client = MlflowHook().get_conn()
    mlflow.set_experiment("batch-bigquery")
    name = "batch_bigquery"
    client.create_registered_model(name)
    promote(client, name, register(client, model_name=name), actor="test", reason="first")
    rows = load_iris(as_frame=True).data.head(25)
    rows.insert(0, "flower_id", range(25))
    rows.to_csv(tmp_path / "to_score.csv", index=False)

    start = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    with DAG("batch_bigquery", schedule=None, start_date=start) as dag:
        BatchScoringOperator(
            task_id="score_batch",
            model_name=name,
            source={"kind": "files", "uri": f"file://{tmp_path}/to_score.csv", "format": "csv"},
            destination="bigquery://proj.ml.predictions",
            id_columns=["flower_id"],
        )
    serialize_dag(dag)
    first = dag.test()
    assert first.state == "success"
    second = dag.test()  # another run appends its own rows
    table = fake.tables["proj.ml.predictions"]
    assert sorted(table["dag_run_id"].unique()) == sorted([first.run_id, second.run_id])
    assert len(table) == 50 and (table["model_version"] == 1).all()
    assert list(table.columns) == [
        "flower_id",
        "prediction",
        "model_version",
        "model_name",
        "dag_run_id",
    ]
    # The first run's DELETE met no table; later ones removed the run's earlier rows first.
    assert [c[0] for c in fake.calls] == ["query", "load", "query", "load"]
    assert fake.calls[2][3] == second.run_id
