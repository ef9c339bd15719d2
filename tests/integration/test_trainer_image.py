"""A team's trainer image (``training.kubernetes.command``) through the real
KubernetesTrainingOperator, against the Kubernetes API stand-in (tests/helpers/kube_standin.py:
real HTTP, the pod's command run as a local process — no images are pulled, so the
"image" is this venv's python running tests/trainer_image/train.py, which never imports
this package: the command hides it). MLflow is a real SQLite store; the data is the
breast-cancer table scikit-learn ships."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import test_kubernetes_training as k8s

from helpers.kube_standin import FAST
from helpers.paths import EXAMPLE_CSV, EXAMPLE_YAML, REPO
from helpers.pipelines import task_outcome

cluster = k8s.cluster  # the API stand-in fixture
training_operator = k8s.training_operator

TRAINER = REPO / "tests" / "trainer_image" / "train.py"
HIDDEN = (
    "import runpy, sys; sys.modules['airflow_ml_provider'] = None; "
    "runpy.run_path(sys.argv[1], run_name='__main__')"
)
"""Runs the trainer with ``import airflow_ml_provider`` failing: it follows the contract alone."""
IMAGE = "registry.example.com/ml/trainers/boosted:2.1"
TRAINING = f"""\
training:
  task: classification
  params: {{num_leaves: 15}}
  runner: kubernetes
  kubernetes:
    image: {IMAGE}
    command: [python, -c, "{HIDDEN}", {TRAINER}]
    resources: {{requests: {{cpu: "2", memory: 4Gi}}, gpu: 1}}
    kubernetes_conn_id: kubernetes_test
"""


def image_pipeline(tmp_path, name: str, training: str = TRAINING) -> str:
    (tmp_path / "data").mkdir(exist_ok=True)
    (tmp_path / "data" / EXAMPLE_CSV.name).write_bytes(EXAMPLE_CSV.read_bytes())
    text = EXAMPLE_YAML.read_text().replace("pipeline: breast_cancer_ct", f"pipeline: {name}")
    start, end = text.index("training:\n"), text.index("evaluation:\n")
    text = text[:start] + training + text[end:]
    text = text.replace(
        "split: {test_size: 0.25, seed: 7, stratify: true}",
        "split: {test_size: 0.25, seed: 7, stratify: true, validation_size: 0.15}",
    )
    path = tmp_path / f"{name}.yaml"
    path.write_text(text)
    return str(path)


@pytest.fixture
def trainer_images(monkeypatch):
    monkeypatch.setenv(
        "AIRFLOW__ML_PROVIDER__ALLOWED_TRAINER_IMAGES", "registry.example.com/ml/trainers/"
    )


def run_image_dag(tmp_path, name: str, training: str = TRAINING, **overrides):
    import datetime as dt

    from airflow.sdk import DAG

    from airflow_ml_provider.cli.local_run import run_dag
    from airflow_ml_provider.pipeline_spec.loader import load_pipeline

    loaded = load_pipeline(image_pipeline(tmp_path, name, training))
    csv = tmp_path / "data" / EXAMPLE_CSV.name
    snapshot = {"uri": f"file://{csv}", "format": "csv", "sha256": "0" * 64}
    with DAG(name, schedule=None, start_date=dt.datetime(2026, 1, 1, tzinfo=dt.UTC)) as dag:
        training_operator(
            loaded,
            snapshot,
            estimator=None,
            positive_class=loaded.spec.evaluation.positive_class,
            **{**FAST, **overrides},
        )
    return loaded, run_dag(dag)


@pytest.mark.parametrize("deferrable", [True, False], ids=["deferrable", "sync"])
def test_a_trainer_image_trains_in_its_pod_and_is_scored_on_the_held_out_rows(
    tmp_path, airflow_db, cluster, trainer_images, deferrable
):
    import mlflow

    from airflow_ml_provider.hooks.mlflow import MlflowHook
    from airflow_ml_provider.ml.data.snapshot_reads import load_split
    from airflow_ml_provider.ml.evaluation.evaluate import load_model
    from airflow_ml_provider.ml.integrity.model_files import DIGEST_TAG

    name = f"image_{'deferred' if deferrable else 'sync'}"
    loaded, dag_run = run_image_dag(tmp_path, name, deferrable=deferrable)
    state, xcoms = task_outcome(dag_run)
    assert state == "success", cluster.requests[-5:]
    result = xcoms["return_value"]

    # The pod: the team's image and command, its GPU, no XCom sidecar, the job and the run.
    (pod,) = cluster.created
    containers = pod["spec"]["containers"]
    assert [c["name"] for c in containers] == ["base"]
    base = containers[0]
    assert base["image"] == IMAGE
    assert base["command"] == ["python", "-c", HIDDEN, str(TRAINER)]
    assert base["resources"]["limits"] == {"nvidia.com/gpu": "1"}
    assert {"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"} in pod["spec"][
        "tolerations"
    ]
    env = {e["name"]: e.get("value") for e in base["env"]}
    assert env["MLFLOW_RUN_ID"] == result["run_id"]
    job = json.loads(env["AIRFLOW_ML_JOB"])
    assert job["image"] == IMAGE and job["estimator"] is None and job["tracking_uri"] is None
    assert cluster.pods == {}

    # It trained on the train rows (with early stopping on the validation rows) only.
    client = MlflowHook().get_conn()
    run = client.get_run(result["run_id"])
    split = load_split(job["data"], "classification")
    import pandas as pd

    train = pd.read_parquet(mlflow.artifacts.download_artifacts(job["data"]["train_uri"]))
    assert len(train) == split.rows_train  # the rows the job names, and only those
    held_out = split.x_test.assign(target=split.y_test.to_numpy())
    assert not train.merge(held_out, how="inner").shape[0]
    assert run.data.params["data.rows_train"] == str(split.rows_train)
    assert run.data.params["data.rows_validation"] == str(split.rows_validation)
    assert result["rows_train"] + result["rows_test"] + split.rows_validation == 569
    assert int(run.data.params["best_iteration"]) > 0
    assert len(client.get_metric_history(run.info.run_id, "validation_multi_logloss")) > 1
    assert run.data.params["image"] == IMAGE

    # Scored here, through pyfunc, on the held-out rows: the numbers the gate will see.
    assert run.data.tags[DIGEST_TAG]
    model = load_model(result["model_uri"])
    recomputed = load_split(job["data"], "classification")
    from sklearn.metrics import roc_auc_score

    positive = list(model.classes_).index(result["positive_class"])
    expected = roc_auc_score(
        recomputed.y_test == result["positive_class"],
        model.predict_proba(recomputed.x_test)[:, positive],
    )
    assert result["metrics"]["roc_auc"] == pytest.approx(expected)
    assert result["metrics"]["roc_auc"] > 0.95


def test_a_trainer_that_logs_no_model_fails_the_task_saying_what_the_contract_asks(
    tmp_path, airflow_db, cluster, trainer_images
):
    """The command exits 0 without logging a model: the task fails with the contract's
    words, not with a missing key."""
    errors: list[BaseException] = []
    quiet = TRAINING.replace(f'"{HIDDEN}", {TRAINER}', '"print(42)"')
    _, dag_run = run_image_dag(
        tmp_path,
        "image_quiet",
        quiet,
        deferrable=False,
        on_failure_callback=lambda context: errors.append(context["exception"]),
    )
    assert task_outcome(dag_run)[0] == "failed"
    (error,) = errors
    assert type(error).__name__ == "TrainerImageError"
    assert str(error).startswith(
        f"the trainer image {IMAGE} finished but logged no MLflow model named 'model' to run "
    )
    assert cluster.pods == {}


def test_a_command_is_refused_for_an_image_that_is_not_a_trainer_image(tmp_path):
    """Any other allowed image (this package's trainer among them) would run what the YAML
    says: refused at the command's line."""
    from airflow_ml_provider.pipeline_spec import SpecError, load_pipeline

    path = image_pipeline(tmp_path, "not_a_trainer")
    with pytest.raises(SpecError) as refused:
        load_pipeline(path)
    message = str(refused.value)
    lines = Path(path).read_text().splitlines()
    line = next(n for n, text in enumerate(lines, 1) if text.startswith("    command: ["))
    assert f"{path}:{line}:14: training.kubernetes.command: " in message, message
    assert "allowed_trainer_images" in message


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (
            ("  task: classification\n", "  task: classification\n  estimator: sklearn.svm.SVC\n"),
            "training.estimator: training.estimator and training.kubernetes.command exclude "
            "each other",
        ),
        (
            ("  task: classification\n", ""),
            f"training.kubernetes.command: the trainer image {IMAGE} needs training.task",
        ),
        (
            (
                "  task: classification\n",
                "  task: classification\n  entrypoint: acme_models.train:mlp\n",
            ),
            "training.kubernetes.command: training.entrypoint and training.kubernetes.command "
            "exclude each other",
        ),
    ],
    ids=["with_estimator", "without_task", "with_entrypoint"],
)
def test_trainer_image_rules_are_reported_at_their_field(
    tmp_path, trainer_images, monkeypatch, change, expected
):
    from airflow_ml_provider.pipeline_spec import SpecError, load_pipeline

    monkeypatch.setenv("AIRFLOW__ML_PROVIDER__ALLOWED_TRAINING_MODULES", "acme_models")
    path = image_pipeline(tmp_path, "rules", TRAINING.replace(*change))
    with pytest.raises(SpecError) as refused:
        load_pipeline(path)
    assert expected in str(refused.value), str(refused.value)


def test_the_factory_builds_a_trainer_image_pipeline(tmp_path, trainer_images):
    """The whole YAML pipeline: train_model is the Kubernetes runner with the team's
    command and no estimator; the gate and registration follow as for any model."""
    from airflow_ml_provider.api import build_dag

    dag = build_dag(image_pipeline(tmp_path, "image_dag"))
    train = dag.get_task("train_model")
    assert train.trainer_command == ["python", "-c", HIDDEN, str(TRAINER)]
    assert train.estimator is None and train.image == IMAGE
    assert {"evaluate_model", "register_model"} <= set(dag.task_ids)
