"""``airflow-ml history`` and ``airflow-ml rollback``: the registry's side of the CLI."""

from __future__ import annotations

import argparse
import json
import os
import sys
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit, urlunsplit

from airflow_ml_provider.core.connections import MLFLOW_CONN_ID
from airflow_ml_provider.core.errors import AirflowMlError

if TYPE_CHECKING:
    from airflow_ml_provider.deployers.base import Deployer


class StoreNotFound(AirflowMlError, LookupError):
    """No MLflow store to read: nothing names one and the embedded default was never made."""


def find_store(args: argparse.Namespace) -> tuple[object, str]:
    """The MLflow store the registry commands read, found as tasks find it, and where it came
    from (said on stderr): --tracking-uri, else $MLFLOW_TRACKING_URI, else the Airflow
    connection (--mlflow-conn-id; default the --pipeline file's registry.mlflow_conn_id, else
    mlflow_default) through Airflow's lookup (environment, secrets backend, metadata DB),
    else the embedded default — only if it exists: an empty store is never created here.

    Returns an MlflowHook for a connection (it carries the credentials), else a URI."""
    explicit = getattr(args, "tracking_uri", None) or os.environ.get("MLFLOW_TRACKING_URI")
    if explicit:
        source = "--tracking-uri" if args.tracking_uri else "$MLFLOW_TRACKING_URI"
        return explicit, f"{_shown(explicit)} ({source})"
    from airflow_ml_provider import settings
    from airflow_ml_provider.hooks.mlflow import MlflowHook

    conn_id = _connection_id(args)
    hook = MlflowHook(conn_id)
    if not hook.is_embedded:
        return hook, f"{_shown(hook.tracking_uri)} (Airflow connection {conn_id})"
    store = settings.embedded_store_path()
    if not store.exists():
        raise StoreNotFound(
            f"no MLflow store to read: there is no Airflow connection {conn_id!r} and the "
            f"embedded store {store} does not exist (nothing ran on this AIRFLOW_HOME). "
            f"Define the connection (AIRFLOW_CONN_{conn_id.upper()}, a secrets backend or "
            "`airflow connections add`), or pass --mlflow-conn-id or --tracking-uri"
        )
    return hook, f"{store} (embedded default: no Airflow connection {conn_id})"


def _connection_id(args: argparse.Namespace) -> str:
    if getattr(args, "mlflow_conn_id", None):
        return args.mlflow_conn_id
    if getattr(args, "pipeline", None):
        from airflow_ml_provider.pipeline_spec import load_pipeline

        return load_pipeline(args.pipeline).spec.registry.mlflow_conn_id
    return MLFLOW_CONN_ID


def _shown(uri: str) -> str:
    """A URI without the password it may carry."""
    parts = urlsplit(uri)
    if parts.password is None:
        return uri
    host = parts.hostname or ""
    netloc = f"{parts.username}:***@{host}" + (f":{parts.port}" if parts.port else "")
    return urlunsplit(parts._replace(netloc=netloc))


def store_uri(args: argparse.Namespace) -> str:
    """The tracking URI of the store find_store finds (a connection's credentials set in
    this process's environment, as MlflowHook does); says on stderr which store it is."""
    store, said = find_store(args)
    print(f"MLflow store: {said}", file=sys.stderr)
    if isinstance(store, str):
        return store
    store.get_conn()  # type: ignore[attr-defined]
    return store.tracking_uri  # type: ignore[attr-defined]


def store_client(args: argparse.Namespace) -> Any:
    """An MlflowClient of the store find_store finds (also this process's default, so
    models:/ URIs load there); says on stderr which store it is."""
    import mlflow

    store, said = find_store(args)
    print(f"MLflow store: {said}", file=sys.stderr)
    if not isinstance(store, str):
        return store.get_conn()  # type: ignore[attr-defined]
    mlflow.set_tracking_uri(store)
    mlflow.set_registry_uri(store)
    return mlflow.MlflowClient(tracking_uri=store, registry_uri=store)


def cmd_history(args: argparse.Namespace) -> int:
    """Who held which alias of a registered model, when and why (exit 2: no such model)."""
    from mlflow.exceptions import MlflowException

    from airflow_ml_provider.ml.registry.aliases import format_history, history

    try:
        client = store_client(args)
        client.get_registered_model(args.model)
        rows = history(client, args.model)
    except (AirflowMlError, MlflowException) as exc:
        print(f"error: {getattr(exc, 'message', exc)}", file=sys.stderr)
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

    try:
        client = store_client(args)
        deployer = _rollback_deployer(client, args)
        done = roll_back_serving(
            client, deployer, to=args.to, actor=f"cli:{getpass.getuser()}", reason=args.reason
        )
    except ServingRollbackFailed as exc:
        return _rollback_error(args, str(exc), 1)
    except (AirflowMlError, MlflowException) as exc:
        return _rollback_error(args, str(getattr(exc, "message", exc)), 2)
    if args.json:
        print(json.dumps({"model": args.model, **done, "error": None}, default=str))
        return 0
    print(f"{args.model}: champion {done['from'] or '-'} -> {done['to']}")
    print(f"{done['strategy']} serving follows: version {done['to']} {done['checked']}")
    return 0


def _rollback_error(args: argparse.Namespace, message: str, code: int) -> int:
    """A rollback that failed (1: serving could not follow, 2: not possible): stderr, and
    with ``--json`` one object with the error."""
    print(f"error: {message}", file=sys.stderr)
    if args.json:
        print(json.dumps({"model": args.model, "error": message}))
    return code


def _rollback_deployer(client: Any, args: argparse.Namespace) -> Deployer:
    """The deployer of --pipeline FILE, else the one recorded on the serving champion."""
    from airflow_ml_provider.deployers import recorded_deployer
    from airflow_ml_provider.ml.registry.aliases import CHAMPION, holder

    connections = {"kubernetes": args.kubernetes_conn_id}
    if args.pipeline is None:
        client.get_registered_model(args.model)  # a clear error for an unknown model
        champion = holder(client, args.model, CHAMPION)
        return recorded_deployer(client, args.model, champion, connections)
    from airflow_ml_provider.core.errors import DeploymentFailed
    from airflow_ml_provider.factory.steps import deployment_operator
    from airflow_ml_provider.pipeline_spec import load_pipeline

    spec = load_pipeline(args.pipeline).spec
    if spec.model_name != args.model:
        raise DeploymentFailed(f"{args.pipeline} deploys {spec.model_name}, not {args.model}")
    return deployment_operator(spec, task_id="rollback", registration={}).deployer()
