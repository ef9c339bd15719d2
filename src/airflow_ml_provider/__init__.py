"""airflow-ml-provider: YAML-defined continuous-training pipelines for Apache Airflow 3.

Nothing heavy is imported here: Airflow calls :func:`get_provider_info` while it
discovers providers, and the DAG processor imports this package at parse time.
"""

from __future__ import annotations

__version__ = "0.1.0"

PACKAGE_NAME = "airflow-ml-provider"
INTEGRATION = "ML pipelines"
_PKG = "airflow_ml_provider"
OPERATOR_MODULES = [
    f"{_PKG}.operators.{name}"
    for name in (
        "snapshot",
        "validation",
        "changes",
        "training",
        "job_pods",
        "kubernetes_training",
        "kubernetes_steps",
        "candidates",
        "partitions",
        "evaluation",
        "approval",
        "registry",
        "deployment",
        "canary_deferral",
        "kubernetes_deployment",
        "kserve_deployment",
        "batch_scoring",
        "monitoring",
        "notify",
        "config_error",
    )
]


def get_provider_info() -> dict:
    """Return the provider metadata Airflow's ProvidersManager reads."""
    return {
        "package-name": PACKAGE_NAME,
        "name": INTEGRATION,
        "description": "Continuous-training ML pipelines from YAML: validate, train, "
        "evaluate against the champion, register in MLflow, deploy.",
        "versions": [__version__],
        "integrations": [
            {
                "integration-name": INTEGRATION,
                "external-doc-url": "https://mlflow.org/docs/latest/ml/model-registry/",
                "tags": ["software"],
            }
        ],
        "operators": [{"integration-name": INTEGRATION, "python-modules": OPERATOR_MODULES}],
        "sensors": [{"integration-name": INTEGRATION, "python-modules": [f"{_PKG}.sensors.data"]}],
        "hooks": [
            {
                "integration-name": INTEGRATION,
                "python-modules": [f"{_PKG}.hooks.mlflow", f"{_PKG}.hooks.data"],
            }
        ],
        "triggers": [
            {
                "integration-name": INTEGRATION,
                "python-modules": [
                    f"{_PKG}.triggers.data",
                    f"{_PKG}.triggers.drift",
                    f"{_PKG}.triggers.canary",
                ],
            }
        ],
        "notifications": [
            f"{_PKG}.notifications.notifier.TaskAlertNotifier",
            f"{_PKG}.notifications.notifier.ConfiguredNotifier",
        ],
        "plugins": [
            {"name": "ml_pipelines", "plugin-class": f"{_PKG}.ui.plugin.MlPipelinesPlugin"}
        ],
        "connection-types": [
            {
                "connection-type": "mlflow",
                "hook-class-name": "airflow_ml_provider.hooks.mlflow.MlflowHook",
                "hook-name": "MLflow",
                # The connection form, declared (Airflow 3.2+ reads it without importing the
                # hook); the fields land in the connection's extra under these names.
                "conn-fields": {
                    "tracking_uri": {
                        "label": "Tracking URI (instead of Host)",
                        "schema": {"type": ["string", "null"]},
                        "description": "e.g. databricks, or a URI Host cannot hold",
                    },
                    "token": {
                        "label": "Token",
                        "schema": {"type": ["string", "null"], "format": "password"},
                        "description": "sent as MLFLOW_TRACKING_TOKEN",
                    },
                },
                "ui-field-behaviour": {
                    "hidden-fields": ["schema", "port", "extra"],
                    "relabeling": {"host": "Tracking URI", "login": "Username"},
                    "placeholders": {"host": "http://mlflow.ml.svc:5000"},
                },
            }
        ],
        "extra-links": [
            "airflow_ml_provider.operators.links.MlflowRunLink",
            "airflow_ml_provider.operators.links.ModelVersionLink",
            "airflow_ml_provider.operators.links.DataDocsLink",
            "airflow_ml_provider.operators.links.PredictionsLink",
        ],
        "config": {
            "ml_provider": {
                "description": "Settings of airflow-ml-provider.",
                "options": {
                    "allowed_estimator_modules": {
                        "description": "Comma-separated packages a pipeline's estimators "
                        "(training.estimator, candidates) may be classes of: a public class "
                        "defined in the package, a scikit-learn estimator, never a function.",
                        "version_added": "0.1.0",
                        "type": "string",
                        "example": "sklearn.,lightgbm.,xgboost.,mycompany.models.",
                        "default": "sklearn.,lightgbm.,xgboost.",
                    },
                    "allowed_notifier_modules": {
                        "description": "Comma-separated packages a pipeline's alerts.notifiers "
                        "may be classes of (public BaseNotifier subclasses defined there).",
                        "version_added": "0.1.0",
                        "type": "string",
                        "example": "airflow.providers.,mycompany.alerts.",
                        "default": "airflow.providers.",
                    },
                    "allowed_transformer_modules": {
                        "description": "Comma-separated packages team transformers "
                        "(features.custom) may be classes of (public scikit-learn transformers "
                        "defined there).",
                        "version_added": "0.1.0",
                        "type": "string",
                        "example": "sklearn.,mycompany.features.",
                        "default": "sklearn.",
                    },
                    "allowed_callables": {
                        "description": "Comma-separated exact import paths of the functions a "
                        "pipeline may name (features.text tokenizer); nothing else YAML names "
                        "may be a function.",
                        "version_added": "0.4.0",
                        "type": "string",
                        "example": "mycompany.features.text.japanese_tokens",
                        "default": "",
                    },
                    "allowed_training_modules": {
                        "description": "Comma-separated packages a pipeline's "
                        "training.entrypoint (package.module:function) may be a function of: "
                        "team training code, imported only in the training process. Empty: no "
                        "pipeline may name an entrypoint.",
                        "version_added": "0.5.0",
                        "type": "string",
                        "example": "acme_models.",
                        "default": "",
                    },
                    "gpu_node_selector": {
                        "description": "JSON node labels a GPU pod (resources gpu: N) gets when "
                        "its YAML names no node_selector: the GPU pool (set from the Helm "
                        "values).",
                        "version_added": "0.5.0",
                        "type": "string",
                        "example": '{"cloud.google.com/gke-accelerator": "nvidia-tesla-t4"}',
                        "default": "",
                    },
                    "gpu_tolerations": {
                        "description": "JSON list of tolerations a GPU pod gets when its YAML "
                        "names none (the GPU pool's taint); empty: the nvidia.com/gpu "
                        "NoSchedule taint GKE and EKS GPU pools carry.",
                        "version_added": "0.5.0",
                        "type": "string",
                        "example": '[{"key": "nvidia.com/gpu", "operator": "Exists", '
                        '"effect": "NoSchedule"}]',
                        "default": "",
                    },
                    "allowed_images": {
                        "description": "Comma-separated image prefixes (registry/repository) "
                        "training and serving pods may run; an image a pipeline names must "
                        "start with one. Empty: no pipeline may run a pod.",
                        "version_added": "0.4.0",
                        "type": "string",
                        "example": "registry.example.com/ml/",
                        "default": "",
                    },
                    "allowed_trainer_images": {
                        "description": "Comma-separated image prefixes of team trainer images: "
                        "a pipeline may set training.kubernetes.command only for an image under "
                        "one of them (the team's own trainer, in any language). Keep the "
                        "package's training image out of it. Empty: no pipeline sets a command.",
                        "version_added": "0.5.0",
                        "type": "string",
                        "example": "registry.example.com/ml/trainers/",
                        "default": "",
                    },
                    "allowed_service_accounts": {
                        "description": "Comma-separated ServiceAccounts a pipeline's pods may "
                        "run as (default: the two the Helm chart creates).",
                        "version_added": "0.4.0",
                        "type": "string",
                        "example": "airflow-ml-training,airflow-ml-serving",
                        "default": "airflow-ml-training,airflow-ml-serving",
                    },
                    "allowed_secrets": {
                        "description": "Comma-separated Kubernetes Secrets a pipeline's pods "
                        "may take environment from (env_from_secrets).",
                        "version_added": "0.4.0",
                        "type": "string",
                        "example": "mlflow-auth,storage-credentials",
                        "default": "",
                    },
                    "allow_pod_templates": {
                        "description": "Allow training.kubernetes.pod_template_file (a "
                        "template can set any image, account or volume).",
                        "version_added": "0.4.0",
                        "type": "boolean",
                        "example": "True",
                        "default": "False",
                    },
                    "allow_unverified_models": {
                        "description": "Load models without a recorded digest (registered by "
                        "hand, or trained before digests) after the format and type checks; "
                        "by default they are refused.",
                        "version_added": "0.4.0",
                        "type": "boolean",
                        "example": "True",
                        "default": "False",
                    },
                    "allowed_env_prefixes": {
                        "description": "Comma-separated prefixes of the environment variables "
                        "${VAR} in pipeline YAML may read; every other variable is refused.",
                        "version_added": "0.1.0",
                        "type": "string",
                        "example": "AIRFLOW_ML_,TEAM_ML_",
                        "default": "AIRFLOW_ML_",
                    },
                    "allowed_data_roots": {
                        "description": "Comma-separated folders local files named in YAML may "
                        "be in, besides the pipeline's folder, the DAGs folder and a local "
                        "artifact store.",
                        "version_added": "0.1.0",
                        "type": "string",
                        "example": "/data/shared,/mnt/features",
                        "default": "",
                    },
                    "local_training": {
                        "description": "How LocalTrainingOperator trains: subprocess (python "
                        "-m airflow_ml_provider.ml.train, isolated), warm (each job forked, as "
                        "isolated, from a per-worker process with the training libraries "
                        "imported) or in_process (the same function in the task's process; "
                        "airflow-ml run sets it).",
                        "version_added": "0.1.0",
                        "type": "string",
                        "example": "in_process",
                        "default": "subprocess",
                    },
                    "parse_cache": {
                        "description": "Folder of the content-hash cache of parsed pipeline "
                        "files, or off. Empty means $AIRFLOW_HOME/ml-parse-cache.",
                        "version_added": "0.1.0",
                        "type": "string",
                        "example": "off",
                        "default": "",
                    },
                    "mail_templates": {
                        "description": "A folder of Jinja templates (failure.html, "
                        "promotion.txt, _layout.html, ...) that replace the default mail "
                        "bodies of the same name. Empty: the defaults.",
                        "version_added": "0.1.0",
                        "type": "string",
                        "example": "/opt/airflow/mail-templates",
                        "default": "",
                    },
                    "mlflow_ui_url": {
                        "description": "Base URL of the MLflow UI used in links when the "
                        "tracking store is not an HTTP server (the embedded default). Empty: "
                        "no MLflow links, and the pipeline pages say there is no MLflow UI.",
                        "version_added": "0.1.0",
                        "type": "string",
                        "example": "https://mlflow.example.com",
                        "default": "",
                    },
                    "artifact_store_url": {
                        "description": "Base URL under which people can open files of the "
                        "artifact store (Data Docs). Empty: gs:// links open in the Cloud "
                        "console, s3:// in the S3 console, local files as file:// URIs.",
                        "version_added": "0.1.0",
                        "type": "string",
                        "example": "https://artifacts.example.com/ml-artifacts",
                        "default": "",
                    },
                    "artifact_store": {
                        "description": "Where dataset snapshots and validation results are "
                        "stored (local folder, file://, gs:// or s3://). Empty means "
                        "$AIRFLOW_HOME/ml-artifacts.",
                        "version_added": "0.1.0",
                        "type": "string",
                        "example": "gs://my-bucket/ml-artifacts",
                        "default": "",
                    },
                },
            }
        },
    }
