"""The data behind each page, as plain dicts (the HTML templates and the JSON endpoints
show the same thing): Airflow's view of a pipeline joined with its model in MLflow."""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from airflow_ml_provider.core.errors import AirflowMlError
from airflow_ml_provider.ml.evaluation.plots import CAPTIONS
from airflow_ml_provider.ui.airflow_state import (
    PipelineDag,
    RunInfo,
    TaskResult,
    pipeline_dag,
    pipeline_dags,
)
from airflow_ml_provider.ui.registry_state import (
    ModelState,
    VersionInfo,
    model_states,
    run_table,
)


class PipelineNotFound(AirflowMlError, LookupError):
    """No YAML pipeline with this DAG id (or the user may not read it)."""


def pipelines_view(session: Session, clients, allowed: set[str] | None) -> list[dict[str, Any]]:
    """One row per YAML pipeline the user may read (broken-config files included)."""
    dags = pipeline_dags(session, allowed)
    states = _states(clients, [d for d in dags if d.card], all_metrics=False)
    return [_row(dag, states.get(dag.dag_id), clients) for dag in dags]


def pipeline_view(
    session: Session, clients, dag_id: str, partitions: dict[str, Any] | None = None
) -> dict[str, Any]:
    """Everything the pipeline page shows; ``partitions`` = {table, sort, desc, q, status}
    (table: ``metrics``, the shown version's own per-partition metrics, or ``gate``, the
    latest evaluation's challenger-vs-champion comparison)."""
    dag = pipeline_dag(session, dag_id)
    if dag is None:
        raise PipelineNotFound(dag_id)
    card = dag.card
    if card is None:  # pipeline_dag returns DAGs with a card only
        raise PipelineNotFound(dag_id)
    state = _states(clients, [dag], all_metrics=True)[dag.dag_id]
    view = _row(dag, state, clients)
    client = clients(card["mlflow_conn_id"])
    view.update(
        description=dag.description,
        yaml=card["yaml"],
        file=card["file"],
        metrics=card["metrics"],
        higher_is_better=card["higher_is_better"],
        versions=[_version(v, state, clients, card) for v in reversed(state.versions)],
        chart=[
            {"version": v.version, "value": v.metrics[card["primary_metric"]], "aliases": v.aliases}
            for v in state.versions
            if card["primary_metric"] in v.metrics
        ],
        history=list(reversed(state.history)),
        decision=_decision(dag.decision, dag.changes),
        runs=[_run(run) for run in dag.recent_runs],
        partitions=None,
    )
    if card["partition_by"]:
        view["partitions"] = _partition_section(client, state, partitions or {})
    view["leaderboard"] = _leaderboard(client, state) if card.get("candidates") else None
    return view


def _leaderboard(client, state: ModelState) -> dict[str, Any] | None:
    """training.candidates' leaderboard of the latest version (its refit run's
    leaderboard.csv): rank, name, estimator, status, CV scores, fit seconds, error."""
    from airflow_ml_provider.ml.training.candidates import LEADERBOARD_ARTIFACT

    latest = state.versions[-1] if state.versions else None
    if latest is None or not latest.run_id:
        return None
    rows = run_table(client, latest.run_id, LEADERBOARD_ARTIFACT)
    columns = [c for c in (list(rows[0]) if rows else []) if c != "run_id"]
    return {"version": latest.version, "columns": columns, "rows": rows}


def _partition_section(client, state: ModelState, query: dict[str, Any]) -> dict | None:
    """The champion's per-partition metrics, or the latest gate's comparison per partition."""
    from airflow_ml_provider.ml.evaluation.gate import PARTITION_TABLE
    from airflow_ml_provider.ml.partitions.assembly import METRICS_TABLE

    latest = state.versions[-1] if state.versions else None
    which = "gate" if query.get("table") == "gate" else "metrics"
    shown = latest if which == "gate" else (state.champion or latest)
    if shown is None or not shown.run_id:
        return None
    if which == "gate":
        rows = [_gate_row(row) for row in run_table(client, shown.run_id, PARTITION_TABLE)]
    else:
        rows = run_table(client, shown.run_id, METRICS_TABLE)
    section = partition_table(
        rows,
        shown.version,
        sort=query.get("sort"),
        desc=bool(query.get("desc")),
        q=query.get("q"),
        status=query.get("status"),
    )
    champion = state.champion
    section.update(table=which, champion=champion.version if champion else None)
    return section


def _gate_row(row: dict[str, Any]) -> dict[str, Any]:
    """A row of gate/partitions.csv with a status: regressed, ok or not judged."""
    judged = str(row.get("judged")) == "True"
    status = "regressed" if str(row.get("regressed")) == "True" else "ok" if judged else None
    return {
        "partition": row["partition"],
        "status": status or "not judged",
        "rows": row.get("rows"),
        "challenger": row.get("challenger"),
        "champion": row.get("champion"),
        "delta": row.get("delta"),
    }


def partition_table(
    rows: list[dict[str, Any]],
    version: int,
    sort: str | None = None,
    desc: bool = False,
    q: str | None = None,
    status: str | None = None,
) -> dict[str, Any]:
    """The per-partition table of one version, filtered (text in the partition key, status)
    and sorted by any column; missing values sort last either way."""
    columns = list(rows[0]) if rows else []
    sort = sort if sort in columns else "partition"
    shown = [
        row
        for row in rows
        if (not q or q.lower() in str(row.get("partition", "")).lower())
        and (not status or row.get("status") == status)
    ]
    present = [row for row in shown if row.get(sort) is not None]
    missing = [row for row in shown if row.get(sort) is None]
    present.sort(key=lambda row: _sort_key(row[sort]), reverse=desc)
    counts: dict[str, int] = defaultdict(int)
    for row in rows:
        counts[str(row.get("status"))] += 1
    return {
        "version": version,
        "columns": columns,
        "rows": present + missing,
        "total": len(rows),
        "counts": dict(sorted(counts.items())),
        "sort": sort,
        "desc": desc,
        "q": q or "",
        "status": status or "",
    }


def _states(clients, dags: list[PipelineDag], all_metrics: bool) -> dict[str, ModelState]:
    """Model states per DAG id, one batch of registry calls per MLflow connection."""
    by_conn: dict[str, list[tuple[str, dict[str, Any]]]] = defaultdict(list)
    for dag in dags:
        if dag.card is not None:
            by_conn[dag.card["mlflow_conn_id"]].append((dag.dag_id, dag.card))
    states: dict[str, ModelState] = {}
    for conn_id, group in by_conn.items():
        models = {card["model_name"]: card["experiment_name"] for _, card in group}
        found = model_states(clients(conn_id), models, all_metrics=all_metrics)
        states.update((dag_id, found[card["model_name"]]) for dag_id, card in group)
    return states


def _row(dag: PipelineDag, state: ModelState | None, clients) -> dict[str, Any]:
    row: dict[str, Any] = {
        "dag_id": dag.dag_id,
        "config_error": dag.config_error,
        "error": dag.description if dag.config_error else None,
        "schedule": dag.schedule,
        "paused": dag.paused,
        "gone": dag.gone,
        "next_run": _iso(dag.next_run),
        "last_run": _run(dag.last_run) if dag.last_run else None,
    }
    if dag.card is None:
        return row
    card = dag.card
    champion = state.champion if state else None
    hook = clients.hook(card["mlflow_conn_id"])
    row.update(
        model_name=card["model_name"],
        local=is_local_run(card),
        partition_by=card["partition_by"],
        primary_metric=card["primary_metric"],
        champion=champion.version if champion else None,
        champion_metric=champion.metrics.get(card["primary_metric"]) if champion else None,
        last_promoted=_iso(state.last_promoted if state else None),
        versions_count=len(state.versions) if state else 0,
        validation=_validation(dag.validation),
        drift=_drift(dag.validation, dag.monitor_drift),
        monitor_dag_id=card["monitor_dag_id"],
        model_url=hook.model_url(card["model_name"]),
        champion_url=hook.model_version_url(card["model_name"], champion.version)
        if champion
        else None,
    )
    return row


def is_local_run(card: dict[str, Any]) -> bool:
    """Whether the pipeline's DAG was written by `airflow-ml run` of a YAML file outside the
    DAGs folder (the DAG processor never parses it, so it is not deployed)."""
    from pathlib import Path

    from airflow.configuration import conf

    folder = Path(conf.get("core", "dags_folder")).resolve()
    file = Path(card.get("file") or "").resolve()
    return not file.is_relative_to(folder)


def _version(v: VersionInfo, state: ModelState, clients, card: dict[str, Any]) -> dict[str, Any]:
    hook = clients.hook(card["mlflow_conn_id"])
    return {
        "version": v.version,
        "created": _iso(v.created),
        "aliases": v.aliases,
        "gate": v.gate,
        "metrics": {m: v.metrics.get(m) for m in card["metrics"]},
        "url": hook.model_version_url(state.name, v.version),
        "run_url": hook.run_url(v.experiment_id, v.run_id) if v.experiment_id else None,
    }


def _validation(result: TaskResult | None) -> dict[str, Any] | None:
    if result is None or not isinstance(result.value, dict):
        return None
    summary = result.value
    from airflow_ml_provider.settings import data_docs_url

    docs = summary.get("data_docs_uri")
    return {
        "success": bool(summary.get("success")),
        "warnings": len(summary.get("warnings") or []),
        "failed_expectations": len(summary.get("failed_expectations") or []),
        "rows": summary.get("rows"),
        "data_docs_url": data_docs_url(docs) if docs else None,
        "at": _iso(result.at),
        "run_id": result.run_id,
    }


def _drift(validation: TaskResult | None, monitor: TaskResult | None) -> dict[str, Any] | None:
    """The most recent drift verdict: the training run's validation or the drift monitor."""
    found = []
    if validation and isinstance(validation.value, dict) and validation.value.get("drift"):
        report = validation.value["drift"]
        found.append((validation.at, bool(report.get("drift")), "validation", None))
    if monitor and isinstance(monitor.value, dict) and "retrain" in monitor.value:
        value = monitor.value
        found.append((monitor.at, bool(value["retrain"]), "monitor", value.get("skipped")))
    if not found:
        return None
    at, drifted, source, skipped = max(found, key=lambda item: item[0] or datetime.min)
    return {"drift": drifted, "source": source, "skipped": skipped, "at": _iso(at)}


def _decision(result: TaskResult | None, changes: TaskResult | None) -> dict[str, Any] | None:
    """The latest gate decision, or — when the run that finished last found nothing new and
    skipped the gate — that run's reason."""
    found = changes.value if changes is not None and isinstance(changes.value, dict) else {}
    if changes is not None and found.get("unchanged") and _later(changes, result):
        return {
            "unchanged": True,
            "reason": found.get("reason"),
            "champion_version": found.get("champion_version"),
            "run_id": changes.run_id,
            "at": _iso(changes.at),
        }
    if result is None or not isinstance(result.value, dict):
        return None
    decision = result.value
    return {
        "promote": bool(decision.get("promote")),
        "reason": decision.get("reason"),
        "rules": decision.get("rules") or [],
        "challenger": decision.get("challenger") or {},
        "champion": decision.get("champion") or {},
        "champion_version": decision.get("champion_version"),
        "partitions": {k: v for k, v in (decision.get("partitions") or {}).items() if k != "worst"},
        "plots": [
            {"name": name, "caption": CAPTIONS.get(name, name)}
            for name in decision.get("plots") or []
        ],
        "run_id": result.run_id,
        "at": _iso(result.at),
    }


def _later(first: TaskResult, second: TaskResult | None) -> bool:
    """Whether ``first`` comes from a run that finished after ``second``'s (or there is no
    second)."""
    if second is None or second.at is None:
        return True
    return first.at is not None and first.at >= second.at


def _run(run: RunInfo) -> dict[str, Any]:
    return {
        "run_id": run.run_id,
        "state": run.state,
        "run_type": run.run_type,
        "at": _iso(run.end or run.start or run.run_after),
        "failure": run.failure,
    }


def _iso(value: datetime | None) -> str | None:
    return value.isoformat(timespec="seconds") if value else None


def _sort_key(value: Any) -> tuple[int, Any]:
    return (0, value) if isinstance(value, int | float) else (1, str(value))


def gate_plot(session: Session, clients, dag_id: str, name: str) -> bytes | None:
    """The PNG of one evaluation picture of the latest gate decision (logged on its training
    run), or None when that decision has no such picture."""
    import tempfile
    from pathlib import Path

    from airflow_ml_provider.ml.evaluation.plots import plot_path

    dag = pipeline_dag(session, dag_id)
    if dag is None or dag.card is None or dag.decision is None:
        return None
    decision = dag.decision.value
    if not isinstance(decision, dict) or name not in (decision.get("plots") or []):
        return None
    client = clients(dag.card["mlflow_conn_id"])
    with tempfile.TemporaryDirectory(prefix="airflow-ml-plot-") as scratch:
        local = client.download_artifacts(decision["mlflow_run_id"], plot_path(name), scratch)
        return Path(local).read_bytes()
