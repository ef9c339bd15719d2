"""The YAML contract of training.runner kubernetes and training.search: good files load,
bad ones are refused at file:line:column with what was expected."""

from __future__ import annotations

import pytest

from airflow_ml_provider.pipeline_spec import load_pipeline
from helpers.spec_files import GOOD, errors_of, write

KUBERNETES = """\
  runner: kubernetes
  kubernetes:
    image: registry.example.com/ml/trainer:1.4.2
    namespace: ml-training
    service_account: ml-trainer
    resources: {requests: {cpu: "2", memory: 4Gi}, limits: {memory: 8Gi, nvidia.com/gpu: 1}}
    node_selector: {pool: training}
    tolerations: [{key: nvidia.com/gpu, operator: Exists, effect: NoSchedule}]
    priority_class: ml-batch
    env_from_secrets: [mlflow-auth]
"""


def variant(old: str, new: str) -> str:
    assert old in GOOD, old
    return GOOD.replace(old, new)


def test_kubernetes_runner_loads_with_its_pod_settings(tmp_path):
    text = variant("  params: {n_estimators: 10}\n", "  params: {n_estimators: 10}\n" + KUBERNETES)
    training = load_pipeline(write(tmp_path, text)).spec.training
    assert training.runner == "kubernetes"
    pod = training.kubernetes
    assert pod.image == "registry.example.com/ml/trainer:1.4.2"
    assert pod.resources["limits"]["nvidia.com/gpu"] == 1
    assert pod.tolerations[0]["effect"] == "NoSchedule"
    assert pod.automount_service_account_token is False
    assert pod.deferrable is True
    assert pod.startup_timeout.total_seconds() == 600


def test_search_loads_grid_and_random(tmp_path):
    grid = variant(
        "  params: {n_estimators: 10}\n",
        "  params: {n_estimators: 10}\n"
        "  search: {method: grid, params: {max_depth: [3, 5]}, cv: 3}\n",
    )
    search = load_pipeline(write(tmp_path, grid)).spec.training.search
    assert (search.method, search.params, search.cv, search.scoring) == (
        "grid",
        {"max_depth": [3, 5]},
        3,
        None,
    )
    random = variant(
        "  params: {n_estimators: 10}\n",
        "  params: {n_estimators: 10}\n  search:\n    method: random\n    n_iter: 4\n"
        "    params: {max_features: {distribution: uniform, low: 0.1, high: 0.9}}\n"
        "    scoring: f1\n",
    )
    assert load_pipeline(write(tmp_path, random)).spec.training.search.n_iter == 4


BAD = {
    "kubernetes runner without pod settings": (
        ("  params: {n_estimators: 10}\n", "  params: {n_estimators: 10}\n  runner: kubernetes\n"),
        ":18:11: training.runner: runner kubernetes needs training.kubernetes with an image",
    ),
    "pod settings without an image": (
        (
            "  params: {n_estimators: 10}\n",
            "  params: {n_estimators: 10}\n  runner: kubernetes\n  kubernetes: {namespace: ml}\n",
        ),
        ":19:3: training.kubernetes.image: missing required field 'image'",
    ),
    "unknown resource section": (
        (
            "  params: {n_estimators: 10}\n",
            "  params: {n_estimators: 10}\n  runner: kubernetes\n"
            "  kubernetes: {image: t:1, resources: {request: {cpu: 1}}}\n",
        ),
        "training.kubernetes.resources.request",
    ),
    "a GPU on the local runner": (
        (
            "  params: {n_estimators: 10}\n",
            "  params: {n_estimators: 10}\n  runner: local\n"
            "  kubernetes: {image: registry.example.com/ml/t:1, resources: {gpu: 1}}\n",
        ),
        ":18:11: training.runner: a GPU needs runner kubernetes: the local runner trains in a "
        "process on the Airflow worker, which cannot be given a GPU per job",
    ),
    "a GPU count that is not a whole number": (
        (
            "  params: {n_estimators: 10}\n",
            "  params: {n_estimators: 10}\n  runner: kubernetes\n"
            "  kubernetes: {image: registry.example.com/ml/t:1, resources: {gpu: 40}}\n",
        ),
        "training.kubernetes.resources: gpu: a whole number of GPUs from 0 to 16, got 40",
    ),
    "distribution in a grid search": (
        (
            "  params: {n_estimators: 10}\n",
            "  params: {n_estimators: 10}\n  search: {method: grid, params: "
            "{alpha: {distribution: uniform, low: 0, high: 1}}}\n",
        ),
        ":18:42: training.search.params.alpha: grid search takes a list of values",
    ),
    "unknown distribution": (
        (
            "  params: {n_estimators: 10}\n",
            "  params: {n_estimators: 10}\n  search: {method: random, params: "
            "{alpha: {distribution: normal, low: 0, high: 1}}}\n",
        ),
        "training.search.params: alpha: distribution must be one of uniform, loguniform, "
        "randint, got 'normal'",
    ),
    "regression metric for a classifier search": (
        (
            "  params: {n_estimators: 10}\n",
            "  params: {n_estimators: 10}\n  search: {method: grid, params: {max_depth: [3]}, "
            "scoring: rmse}\n",
        ),
        "training.search.scoring: 'rmse' is a regression metric but the pipeline is classification",
    ),
}


@pytest.mark.parametrize("case", sorted(BAD))
def test_bad_training_config_is_refused(tmp_path, case):
    (old, new), expected = BAD[case]
    path = write(tmp_path, variant(old, new))
    message = errors_of(path)
    assert expected in message, message
    assert str(path) in message


def test_factory_picks_the_kubernetes_runner_with_the_yaml_pod_settings(tmp_path):
    from airflow_ml_provider.factory.builder import build_dag
    from airflow_ml_provider.operators.kubernetes_training import KubernetesTrainingOperator

    text = variant("  params: {n_estimators: 10}\n", "  params: {n_estimators: 10}\n" + KUBERNETES)
    text = text.replace(
        "    env_from_secrets", "    pod_template_file: pod.yaml\n    env_from_secrets"
    )
    train = build_dag(load_pipeline(write(tmp_path, text))).get_task("train_model")
    assert isinstance(train, KubernetesTrainingOperator)
    assert (train.image, train.namespace, train.service_account_name) == (
        "registry.example.com/ml/trainer:1.4.2",
        "ml-training",
        "ml-trainer",
    )
    assert train.container_resources.limits == {"memory": "8Gi", "nvidia.com/gpu": "1"}
    assert train.node_selector == {"pool": "training"}
    assert train.priority_class_name == "ml-batch"
    assert train.pod_template_file == str(tmp_path / "pod.yaml")
    assert [e.secret_ref.name for e in train.env_from] == ["mlflow-auth"]
    assert train.deferrable is True


PARTITIONED = GOOD.replace("  target: churned\n", "  target: churned\n  partition_by: region\n")


@pytest.mark.parametrize(
    ("training", "expected"),
    [
        (
            "  partitioning: {runner: kubernetes}\n",
            ":18:26: training.partitioning.runner: runner kubernetes runs plan_partitions and "
            "assemble_model in pods of training.kubernetes' image and settings: it needs "
            "training.runner kubernetes",
        ),
        (
            KUBERNETES + "  partitioning: {kubernetes: {resources: {requests: {memory: 9Gi}}}}\n",
            "training.partitioning.kubernetes: partitioning.kubernetes applies only to "
            "partitioning.runner kubernetes",
        ),
        (
            KUBERNETES + "  partitioning: {runner: pods}\n",
            "training.partitioning.runner: got 'pods'; input should be 'local' or 'kubernetes'",
        ),
    ],
    ids=["without the kubernetes runner", "resources without the runner", "unknown runner"],
)
def test_where_plan_partitions_runs_is_checked(tmp_path, training, expected):
    text = PARTITIONED.replace("  params: {n_estimators: 10}\n", training)
    message = errors_of(write(tmp_path, text))
    assert expected in message, message


def test_plan_partitions_pod_gets_its_own_resources(tmp_path):
    """The factory's plan_partitions: a pod of training.kubernetes' settings with
    partitioning.kubernetes' resources (rendered without a cluster)."""
    from airflow_ml_provider.factory.builder import build_dag

    text = PARTITIONED.replace(
        "  params: {n_estimators: 10}\n",
        KUBERNETES
        + "  partitioning:\n    runner: kubernetes\n"
        + "    kubernetes: {resources: {requests: {memory: 48Gi}, limits: {memory: 64Gi}}}\n",
    )
    dag = build_dag(load_pipeline(write(tmp_path, text)))
    plan = dag.get_task("plan_partitions")
    assert type(plan).__name__ == "KubernetesPlanPartitionsOperator"
    assert plan.image == "registry.example.com/ml/trainer:1.4.2"
    assert plan.namespace == "ml-training" and plan.service_account_name == "ml-trainer"
    assert plan.container_resources.requests == {"memory": "48Gi"}
    assert plan.container_resources.limits == {"memory": "64Gi"}
    training = dag.get_task("train_partitions").partial_kwargs
    assert training["resources"]["requests"]["memory"] == "4Gi"


@pytest.mark.parametrize(
    ("training", "evaluation", "expected"),
    [
        (
            "",
            "  runner: kubernetes\n",
            "evaluation.runner: runner kubernetes runs evaluate_model in a pod of "
            "training.kubernetes' image and settings: it needs training.runner kubernetes",
        ),
        (
            KUBERNETES,
            "  kubernetes: {resources: {requests: {memory: 9Gi}}}\n",
            "evaluation.kubernetes: evaluation.kubernetes applies only to evaluation.runner "
            "kubernetes",
        ),
    ],
    ids=["without the kubernetes runner", "resources without the runner"],
)
def test_where_evaluate_model_runs_is_checked(tmp_path, training, evaluation, expected):
    text = GOOD.replace("  params: {n_estimators: 10}\n", training).replace(
        "  thresholds: {roc_auc: 0.8}\n", "  thresholds: {roc_auc: 0.8}\n" + evaluation
    )
    message = errors_of(write(tmp_path, text))
    assert expected in message, message


def test_the_gate_pod_gets_its_own_resources(tmp_path):
    """The factory's evaluate_model with evaluation.runner kubernetes: a pod of
    training.kubernetes' settings with evaluation.kubernetes' resources, the gate's settings
    in its job (rendered without a cluster)."""
    from airflow_ml_provider.factory.builder import build_dag

    text = GOOD.replace("  params: {n_estimators: 10}\n", KUBERNETES).replace(
        "  thresholds: {roc_auc: 0.8}\n",
        "  thresholds: {roc_auc: 0.8}\n  runner: kubernetes\n"
        "  kubernetes: {resources: {requests: {memory: 32Gi}}}\n",
    )
    dag = build_dag(load_pipeline(write(tmp_path, text)))
    gate = dag.get_task("evaluate_model")
    assert type(gate).__name__ == "KubernetesEvaluateModelOperator"
    assert gate.image == "registry.example.com/ml/trainer:1.4.2"
    assert gate.container_resources.requests == {"memory": "32Gi"}
    assert gate.name.startswith("churn-ct-gate")
    gate.training = {"run_id": "r1", "model_uri": "runs:/r1/model"}
    gate.snapshot = {"uri": "file:///s.parquet", "format": "parquet"}
    job = gate.gate_job()
    assert (job.step, job.primary_metric, job.thresholds) == (
        "evaluate_model",
        "roc_auc",
        {"roc_auc": 0.8},
    )
    assert dag.get_task("train_model").container_resources.requests["memory"] == "4Gi"


def test_where_validate_data_runs_is_checked_and_its_pod_gets_its_resources(tmp_path):
    from airflow_ml_provider.factory.builder import build_dag

    pods = "  runner: kubernetes\n  kubernetes: {resources: {requests: {memory: 20Gi}}}\n"
    local_training = GOOD.replace("validation:\n", "validation:\n" + pods)
    message = errors_of(write(tmp_path, local_training))
    assert (
        "validation.runner: runner kubernetes runs validate_data in a pod of "
        "training.kubernetes' image and settings: it needs training.runner kubernetes"
    ) in message, message

    text = local_training.replace("  params: {n_estimators: 10}\n", KUBERNETES)
    dag = build_dag(load_pipeline(write(tmp_path, text)))
    validate = dag.get_task("validate_data")
    assert type(validate).__name__ == "KubernetesValidateDataOperator"
    assert validate.container_resources.requests == {"memory": "20Gi"}
    assert validate.name.startswith("churn-ct-validate")
    assert validate.retries == 2  # the pipeline's: a lost pod is retried, a failed check is not
