"""The InferenceService a version is served by, where KServe reads it from, and how its
status is read (serving/inference_service.py)."""

from __future__ import annotations

import pytest

from airflow_ml_provider.serving import inference_service as isvc

SETTINGS = isvc.InferenceServiceSettings(name="churn", namespace="ml-serving",
                                         service_account="airflow-ml-serving")  # fmt: skip


def test_the_inference_service_serves_the_mlflow_model_over_v2_with_our_pod_defaults():
    body = isvc.inference_service(SETTINGS, "7", "gs://b/mlflow/models/m-1/artifacts")
    predictor = body["spec"]["predictor"]
    assert predictor["model"]["modelFormat"] == {"name": "mlflow"}
    assert predictor["model"]["protocolVersion"] == "v2"
    assert predictor["model"]["storageUri"] == "gs://b/mlflow/models/m-1/artifacts"
    assert predictor["model"]["securityContext"]["capabilities"] == {"drop": ["ALL"]}
    assert predictor["model"]["securityContext"]["allowPrivilegeEscalation"] is False
    assert predictor["securityContext"]["runAsNonRoot"] is True
    assert predictor["automountServiceAccountToken"] is False
    assert predictor["serviceAccountName"] == "airflow-ml-serving"
    assert "canaryTrafficPercent" not in predictor
    assert body["metadata"]["labels"]["airflow-ml/model-version"] == "7"
    assert body["metadata"]["annotations"]["serving.kserve.io/deploymentMode"] == "Serverless"
    canary = isvc.inference_service(SETTINGS, "8", "gs://b/x", canary_percent=10)
    assert canary["spec"]["predictor"]["canaryTrafficPercent"] == 10


def test_the_storage_uri_is_one_the_cluster_can_read():
    assert (
        isvc.storage_uri("s3://bucket/1/models/m/artifacts") == "s3://bucket/1/models/m/artifacts"
    )
    assert isvc.storage_uri("mlflow-artifacts:/1/models/m/artifacts", "gs://store/root/") == (
        "gs://store/root/1/models/m/artifacts"
    )
    with pytest.raises(isvc.NotReachable, match="set deployment.kserve.storage_root"):
        isvc.storage_uri("mlflow-artifacts:/1/models/m/artifacts")
    with pytest.raises(isvc.NotReachable, match="which the cluster cannot read"):
        isvc.storage_uri("file:///home/airflow/mlartifacts/1/models/m/artifacts")


def _status(generation=2, observed=2, ready="True", latest="r-2", ready_rev="r-2", **extra):
    return {
        "metadata": {"generation": generation},
        "status": {
            "observedGeneration": observed,
            "conditions": [{"type": "Ready", "status": ready, **extra}],
            "components": {"predictor": {"latestCreatedRevision": latest,
                                         "latestReadyRevision": ready_rev}},
        },
    }  # fmt: skip


def test_the_rollout_state_says_ready_waiting_or_why_it_failed():
    assert isvc.rollout_state(_status()) == ("ready", "ready")
    assert isvc.rollout_state(_status(observed=1))[0] == "waiting"
    assert isvc.rollout_state(_status(ready_rev="r-1"))[0] == "waiting"  # old revision ready
    failed = _status(ready="False", reason="RevisionFailed", message="Container failed: OOM")
    assert isvc.rollout_state(failed) == ("failed", "RevisionFailed: Container failed: OOM")
    load = _status(ready="Unknown")
    load["status"]["modelStatus"] = {
        "transitionStatus": "BlockedByFailedLoad",
        "lastFailureInfo": {"reason": "ModelLoadFailed", "message": "no MLmodel file"},
    }
    assert isvc.rollout_state(load) == ("failed", "ModelLoadFailed: no MLmodel file")


def test_a_rollback_swaps_only_the_version_and_keeps_the_rest_of_the_spec():
    """A rollback knows where the service is (the deployment record), not its resources:
    the running spec is kept and only the storage URI, version label and traffic change."""
    settings = isvc.InferenceServiceSettings(
        name="churn", namespace="ml-serving", resources={"limits": {"memory": "4Gi"}},
        tolerations=[{"key": "gpu", "operator": "Exists"}],
    )  # fmt: skip
    running = isvc.inference_service(settings, "3", "gs://b/m-3", canary_percent=0)
    running["status"] = {"observedGeneration": 2}
    back = isvc.with_version(running, "2", "gs://b/m-2")
    predictor = back["spec"]["predictor"]
    assert predictor["model"]["storageUri"] == "gs://b/m-2"
    assert "canaryTrafficPercent" not in predictor
    assert predictor["model"]["resources"] == {"limits": {"memory": "4Gi"}}
    assert predictor["tolerations"] == running["spec"]["predictor"]["tolerations"]
    assert back["metadata"]["labels"]["airflow-ml/model-version"] == "2"
    assert "status" not in back and running["spec"]["predictor"]["model"]["storageUri"] == (
        "gs://b/m-3"
    )
