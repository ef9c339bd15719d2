"""AliasDeploymentOperator on its own, through dag.test() (real Airflow DB, real MLflow store):
a promoted version that cannot serve is rolled back to the previous champion, and the move
is in the registry's history."""

from __future__ import annotations

import datetime as dt

import mlflow.pyfunc

MODEL = "deploy_rollback"


class CannotServe(mlflow.pyfunc.PythonModel):
    """A real pyfunc model whose predictions fail, as a model missing a feature would."""

    def predict(self, context, model_input, params=None):
        raise ValueError("column 'tenure' is missing")


def register(client, python_model=None, model_name: str = MODEL) -> str:
    from sklearn.datasets import load_iris
    from sklearn.linear_model import LogisticRegression

    x, y = load_iris(return_X_y=True, as_frame=True)
    with mlflow.start_run() as run:
        if python_model is None:
            info = mlflow.sklearn.log_model(
                LogisticRegression(max_iter=500).fit(x, y),
                name="model",
                input_example=x.head(3),
                serialization_format="cloudpickle",
                pip_requirements=["scikit-learn"],
            )
        else:
            info = mlflow.pyfunc.log_model(
                name="model",
                python_model=python_model,
                input_example=x.head(3),
                pip_requirements=["scikit-learn"],
            )
    return str(
        client.create_model_version(
            model_name, info.model_uri, run_id=run.info.run_id, model_id=info.model_id
        ).version
    )


def test_a_version_that_cannot_serve_is_rolled_back(airflow_db):
    from airflow.sdk import DAG

    from airflow_ml_provider.hooks.mlflow import MlflowHook
    from airflow_ml_provider.local_run import register_for_test
    from airflow_ml_provider.ml.registry import history, promote
    from airflow_ml_provider.operators.deployment import AliasDeploymentOperator

    client = MlflowHook().get_conn()
    mlflow.set_experiment("deploy-rollback")
    client.create_registered_model(MODEL)
    good, bad = register(client), register(client, CannotServe())
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
    register_for_test(dag)
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

    from airflow_ml_provider.hooks.mlflow import MlflowHook
    from airflow_ml_provider.local_run import register_for_test
    from airflow_ml_provider.ml.registry import history
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
    register_for_test(dag)
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
