"""``airflow-ml history`` and ``airflow-ml rollback``: the registry's side of the CLI."""

from __future__ import annotations

import argparse
import json
import os
import sys


def tracking_uri(args: argparse.Namespace) -> str:
    """--tracking-uri, else $MLFLOW_TRACKING_URI, else the embedded default store."""
    from airflow_ml_provider import settings

    return (
        args.tracking_uri
        or os.environ.get("MLFLOW_TRACKING_URI")
        or settings.embedded_tracking_uri()
    )


def _registry_client(args: argparse.Namespace):
    """A client of the chosen store; also this process's default (models:/ URIs load there)."""
    import mlflow

    uri = tracking_uri(args)
    mlflow.set_tracking_uri(uri)
    mlflow.set_registry_uri(uri)
    return mlflow.MlflowClient(tracking_uri=uri, registry_uri=uri)


def cmd_history(args: argparse.Namespace) -> int:
    """Who held which alias of a registered model, when and why (exit 2: no such model)."""
    from mlflow.exceptions import MlflowException

    from airflow_ml_provider.ml.registry import format_history, history

    client = _registry_client(args)
    try:
        client.get_registered_model(args.model)
        rows = history(client, args.model)
    except MlflowException as exc:
        print(f"error: {exc.message}", file=sys.stderr)
        return 2
    print(json.dumps(rows) if args.json else format_history(args.model, rows))
    return 0


def cmd_rollback(args: argparse.Namespace) -> int:
    """Champion back to 'previous' (or --to VERSION), and serving with it (deployers).

    Exit 0 rolled back and serving, 1 serving could not follow (champion restored), 2 not
    possible.
    """
    import getpass

    from mlflow.exceptions import MlflowException

    from airflow_ml_provider.core.errors import AirflowMlError
    from airflow_ml_provider.deployers.rollback import ServingRollbackFailed, roll_back_serving

    client = _registry_client(args)
    try:
        deployer = _rollback_deployer(client, args)
        done = roll_back_serving(
            client, deployer, to=args.to, actor=f"cli:{getpass.getuser()}", reason=args.reason
        )
    except ServingRollbackFailed as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except (AirflowMlError, MlflowException) as exc:
        print(f"error: {getattr(exc, 'message', exc)}", file=sys.stderr)
        return 2
    print(f"{args.model}: champion {done['from'] or '-'} -> {done['to']}")
    print(
        f"{done['strategy']} serving follows: version {done['to']} loads and predicts on its "
        "input example"
    )
    return 0


def _rollback_deployer(client, args: argparse.Namespace):
    """The deployer of --pipeline FILE, else the one recorded on the serving champion."""
    from airflow_ml_provider.deployers import recorded_deployer
    from airflow_ml_provider.ml.registry import CHAMPION, holder

    connections = {"kubernetes": args.kubernetes_conn_id}
    if args.pipeline is None:
        client.get_registered_model(args.model)  # a clear error for an unknown model
        champion = holder(client, args.model, CHAMPION)
        return recorded_deployer(client, args.model, champion, connections)
    from airflow_ml_provider.core.errors import DeploymentFailed
    from airflow_ml_provider.factory.steps import deployment_operator
    from airflow_ml_provider.spec import load_pipeline

    spec = load_pipeline(args.pipeline).spec
    if spec.model_name != args.model:
        raise DeploymentFailed(f"{args.pipeline} deploys {spec.model_name}, not {args.model}")
    return deployment_operator(spec, task_id="rollback", registration={}).deployer()
