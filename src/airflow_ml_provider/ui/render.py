"""HTML for the pages: Jinja2 templates shipped in the package, autoescaped, no CDN."""

from __future__ import annotations

from functools import cache
from typing import Any

from airflow_ml_provider.ui.chart import metric_chart


@cache
def _environment():
    from jinja2 import Environment, PackageLoader, select_autoescape

    return Environment(
        loader=PackageLoader("airflow_ml_provider.ui", "templates"),
        autoescape=select_autoescape(["html"]),
        trim_blocks=True,
        lstrip_blocks=True,
    )


def pipelines_html(rows: list[dict[str, Any]], *, base: str, airflow: str) -> str:
    """The "ML pipelines" list page."""
    return (
        _environment().get_template("pipelines.html").render(rows=rows, base=base, airflow=airflow)
    )


def pipeline_html(view: dict[str, Any], *, base: str, airflow: str) -> str:
    """One pipeline's page (chart, gate decision, partitions, versions, history, config)."""
    chart = metric_chart(view["chart"], view["primary_metric"])
    return (
        _environment()
        .get_template("pipeline.html")
        .render(p=view, chart=chart, base=base, airflow=airflow)
    )


def missing_html(dag_id: str, *, base: str) -> str:
    """The page for a DAG that is not a YAML pipeline (the DAG tab shows on every DAG)."""
    return _environment().get_template("missing.html").render(dag_id=dag_id, base=base)
