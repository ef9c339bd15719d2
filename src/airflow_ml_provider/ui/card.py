"""The pipeline card: what the "ML pipelines" pages need to know about a YAML pipeline.

The factory writes it into the DAG's ``doc_md`` as an HTML comment, so it reaches the Airflow
metadata DB with the serialized DAG (the api-server has no access to the YAML files in most
deployments) while Airflow's own DAG docs, which skip raw HTML, do not show it. It is
rewritten on every parse, so the pages never show a stale config.
"""

from __future__ import annotations

import json
from typing import Any

# DAG tags the factory sets: every DAG it builds, broken-config DAGs, drift monitors.
PIPELINE_TAG = "airflow-ml"
CONFIG_ERROR_TAG = "config-error"
MONITOR_TAG = "monitor"

_START = "<!-- airflow-ml-pipeline-card "
_END = " -->"


def card_comment(card: dict[str, Any]) -> str:
    """The card as the HTML comment appended to the DAG's doc_md."""
    # "--" may not appear inside an HTML comment; JSON escapes keep the text intact.
    text = json.dumps(card, separators=(",", ":")).replace("--", "-\\u002d")
    return f"\n{_START}{text}{_END}\n"


def read_card(doc_md: str | None) -> dict[str, Any] | None:
    """The card in a DAG's doc_md, or None for a DAG the factory did not build."""
    if not doc_md:
        return None
    start = doc_md.rfind(_START)
    if start < 0:
        return None
    end = doc_md.find(_END, start + len(_START))
    if end < 0:
        return None
    try:
        card = json.loads(doc_md[start + len(_START) : end])
    except ValueError:
        return None
    return card if isinstance(card, dict) else None
