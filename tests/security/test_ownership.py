"""Pipelines cannot take over each other: a registered model belongs to the pipeline that
first registered it, and in a DAG folder the file that held a pipeline id (or a model name)
first keeps it — a newcomer, even one that sorts earlier, becomes the error DAG."""

from __future__ import annotations

import datetime as dt
import shutil

import mlflow
import pytest

from airflow_ml_provider.pipeline_spec import SpecError
from helpers.iris_versions import register
from helpers.paths import EXAMPLE_CSV, EXAMPLE_YAML


def _folder(tmp_path):
    folder = tmp_path / "pipelines"
    (folder / "data").mkdir(parents=True)
    shutil.copy(EXAMPLE_CSV, folder / "data" / EXAMPLE_CSV.name)
    (folder / "team_b.yaml").write_text(EXAMPLE_YAML.read_text())
    return folder


def _outcomes(folder):
    from airflow_ml_provider.factory.loader import load_all

    return {path.name: outcome for path, outcome in load_all(folder)}


def test_a_file_that_sorts_earlier_cannot_take_a_pipeline_id(tmp_path):
    folder = _folder(tmp_path)
    assert not isinstance(_outcomes(folder)["team_b.yaml"], SpecError)  # the holder, recorded
    attacker = EXAMPLE_YAML.read_text().replace(
        "model_name: breast_cancer", "model_name: attackers_model"
    )
    (folder / "aaa_attacker.yaml").write_text(attacker)
    outcomes = _outcomes(folder)
    assert not isinstance(outcomes["team_b.yaml"], SpecError)
    error = outcomes["aaa_attacker.yaml"]
    assert isinstance(error, SpecError)
    assert str(error) == (
        f"{folder / 'aaa_attacker.yaml'}:2:11: pipeline: pipeline id 'breast_cancer_ct' is "
        f"already used by {folder / 'team_b.yaml'}; pipeline ids must be unique"
    )


def test_a_second_pipeline_naming_another_teams_model_is_the_error_dag(tmp_path):
    folder = _folder(tmp_path)
    _outcomes(folder)
    (folder / "aaa_attacker.yaml").write_text(
        EXAMPLE_YAML.read_text().replace("pipeline: breast_cancer_ct", "pipeline: attacker_ct")
    )
    outcomes = _outcomes(folder)
    assert not isinstance(outcomes["team_b.yaml"], SpecError)
    assert str(outcomes["aaa_attacker.yaml"]).startswith(
        f"{folder / 'aaa_attacker.yaml'}:31:15: registry.model_name: registered model "
        f"'breast_cancer' is already used by {folder / 'team_b.yaml'}"
    )


def test_registration_refuses_another_pipelines_model(airflow_db, tmp_path):
    """RegisterModelOperator in a hand-written DAG (real Airflow DB, real MLflow store): the
    victim's pipeline owns the model; the attacker's registration task fails before it
    writes a version, and the victim's champion stays."""
    from airflow.sdk import DAG
    from sklearn.dummy import DummyClassifier

    from airflow_ml_provider.cli.airflow_compat import serialize_dag
    from airflow_ml_provider.hooks.mlflow import MlflowHook
    from airflow_ml_provider.ml.registry.aliases import CHAMPION, holder, promote
    from airflow_ml_provider.ml.registry.ownership import ModelOwnershipError, claim_model
    from airflow_ml_provider.operators.registry import RegisterModelOperator

    client = MlflowHook().get_conn()
    mlflow.set_experiment("ownership")
    name = "victims_model"
    claim_model(client, name, "victim_ct")
    champion = register(client, name)
    promote(client, name, champion, actor="victim", reason="gate")
    with mlflow.start_run() as run:
        info = mlflow.sklearn.log_model(DummyClassifier().fit([[0], [1]], [0, 1]), name="model")
    training = {"run_id": run.info.run_id, "model_uri": info.model_uri}
    with DAG(
        "attacker_ct", schedule=None, start_date=dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    ) as dag:
        RegisterModelOperator(
            task_id="register_model",
            training=training,
            decision={"promote": True, "reason": "forced", "champion_version": champion},
            model_name=name,
        )
    serialize_dag(dag)
    assert dag.test().state == "failed"
    assert holder(client, name, CHAMPION) == champion
    assert [str(v.version) for v in client.search_model_versions(f"name='{name}'")] == [champion]
    with pytest.raises(ModelOwnershipError, match="belongs to pipeline 'victim_ct'"):
        claim_model(client, name, "attacker_ct")
    claim_model(client, name, "victim_ct")  # its owner may


KUBERNETES_TRAINING = """\
training:
  estimator: sklearn.ensemble.RandomForestClassifier
  runner: kubernetes
  kubernetes:
    image: {image}
    service_account: {account}
    env_from_secrets: [{secret}]
"""


@pytest.mark.parametrize(
    "image, account, secret, field",
    [
        ("evil.example.org/miner:1", "airflow-ml-training", "mlflow-auth", "image"),
        ("registry.example.com/ml/trainer:1", "cluster-admin", "mlflow-auth", "service_account"),
        (
            "registry.example.com/ml/trainer:1",
            "airflow-ml-training",
            "airflow-db",
            "env_from_secrets",
        ),
    ],
    ids=["image", "service account", "secret"],
)
def test_the_kubernetes_runner_takes_only_what_the_platform_allows(
    image, account, secret, field, tmp_path, monkeypatch
):
    """Image prefixes, ServiceAccounts and Secrets come from [ml_provider] allow-lists (set
    here as a platform would), never free text from YAML; pod templates are off by default."""
    from airflow_ml_provider.pipeline_spec import load_pipeline
    from airflow_ml_provider.pipeline_spec.options import LoaderOptions

    monkeypatch.setenv("AIRFLOW__ML_PROVIDER__ALLOWED_IMAGES", "registry.example.com/ml/")
    monkeypatch.delenv("AIRFLOW__ML_PROVIDER__ALLOWED_SERVICE_ACCOUNTS", raising=False)
    monkeypatch.setenv("AIRFLOW__ML_PROVIDER__ALLOWED_SECRETS", "mlflow-auth")
    monkeypatch.delenv("AIRFLOW__ML_PROVIDER__ALLOW_POD_TEMPLATES", raising=False)
    folder = _folder(tmp_path)
    text = EXAMPLE_YAML.read_text()
    start, end = text.index("training:\n"), text.index("evaluation:\n")
    training = KUBERNETES_TRAINING.format(image=image, account=account, secret=secret)
    path = folder / "k8s.yaml"
    path.write_text(text[:start] + training + text[end:])
    options = LoaderOptions.from_config(parse_cache=None)
    with pytest.raises(SpecError) as caught:
        load_pipeline(path, options)
    assert f": training.kubernetes.{field}" in str(caught.value)
    assert "is not allowed; the platform allows" in str(caught.value)
    allowed = KUBERNETES_TRAINING.format(
        image="registry.example.com/ml/trainer:1", account="airflow-ml-training",
        secret="mlflow-auth",
    )  # fmt: skip
    path.write_text(text[:start] + allowed + text[end:])
    load_pipeline(path, options)
    path.write_text(text[:start] + allowed + "    pod_template_file: pod.yaml\n" + text[end:])
    with pytest.raises(SpecError, match="pod templates are not allowed"):
        load_pipeline(path, options)


def test_an_image_prefix_ends_at_a_registry_path_boundary():
    """A platform that allows ``registry.example.com/ml`` allows its repositories and tags,
    not a look-alike repository that merely starts with the same letters."""
    from airflow_ml_provider.core.allow_lists import cluster_value_problem

    def problem(image: str):
        allowed = ("registry.example.com/ml",)
        return cluster_value_problem(image, allowed, "allowed_images", "image", by_prefix=True)

    assert problem("registry.example.com/ml/trainer:1") is None
    assert problem("registry.example.com/ml:2") is None
    assert problem("registry.example.com/ml@sha256:" + "0" * 64) is None
    refused = problem("registry.example.com/mlevil/miner:1")
    assert refused == (
        "image 'registry.example.com/mlevil/miner:1' is not allowed; the platform allows "
        "registry.example.com/ml ([ml_provider] allowed_images)"
    )
    assert problem("registry.example.com.evil.org/ml/x:1") is not None
