"""What the Helm chart (helm/airflow-ml) creates in the cluster, and therefore what the
provider's pods use by default. tests/helm checks that both sides agree."""

TRAINING_NAMESPACE = "ml-training"
TRAINING_SERVICE_ACCOUNT = "airflow-ml-training"
SERVING_NAMESPACE = "ml-serving"
SERVING_SERVICE_ACCOUNT = "airflow-ml-serving"
# uid and gid of every container we start (the images' non-root user).
RUN_AS = 10001  # also KPO's XCom sidecar runs as it
