"""The pure parts of the "ML pipelines" pages: the pipeline card in doc_md, the partition
table's sorting and filtering, and the SVG chart. (The pages themselves are tested on a real
api-server in a real browser: tests/e2e/test_ui.py.)"""

from __future__ import annotations

import xml.etree.ElementTree as ET

from airflow_ml_provider.ui.card import card_comment, read_card
from airflow_ml_provider.ui.chart import metric_chart
from airflow_ml_provider.ui.views import partition_table
from helpers.paths import EXAMPLE_YAML


def test_the_card_survives_text_that_would_end_an_html_comment():
    card = {"pipeline": "p", "yaml": "description: a --> b -- c\n<!-- x -->\n"}
    doc = "# p\n\nsome docs" + card_comment(card)
    body = doc[doc.index("<!--") + 4 : doc.rindex("-->")]
    assert "--" not in body  # the comment ends where the card ends
    assert read_card(doc) == card
    assert read_card("# a DAG without a card") is None
    assert read_card(None) is None


def test_the_factory_writes_the_card_into_the_dag_docs(tmp_path):
    from airflow_ml_provider.factory.builder import build_dag
    from airflow_ml_provider.pipeline_spec.loader import load_pipeline

    loaded = load_pipeline(EXAMPLE_YAML)
    card = read_card(build_dag(loaded).doc_md)
    spec = loaded.spec
    assert card["pipeline"] == spec.pipeline
    assert card["model_name"] == spec.model_name
    assert card["experiment_name"] == spec.experiment_name
    assert card["mlflow_conn_id"] == spec.registry.mlflow_conn_id
    assert card["primary_metric"] == spec.evaluation.primary_metric
    assert card["higher_is_better"] is True
    assert card["yaml"] == EXAMPLE_YAML.read_text()
    assert card["monitor_dag_id"] is None and card["partition_by"] is None


ROWS = [
    {"partition": "s2", "status": "trained", "reason": "", "rows_train": 10, "auc": 0.7},
    {"partition": "S10", "status": "trained", "reason": "", "rows_train": 30, "auc": 0.9},
    {
        "partition": "s3",
        "status": "skipped",
        "reason": "too few rows",
        "rows_train": 3,
        "auc": None,
    },
    {"partition": "s1", "status": "failed", "reason": "ValueError", "rows_train": 20, "auc": None},
    {"partition": "s4", "status": "trained", "reason": "", "rows_train": 12, "auc": 0.8},
]


def _keys(table):
    return [row["partition"] for row in table["rows"]]


def test_partition_table_sorts_any_column_with_missing_values_last():
    assert _keys(partition_table(ROWS, 1, sort="auc")) == ["s2", "s4", "S10", "s3", "s1"]
    assert _keys(partition_table(ROWS, 1, sort="auc", desc=True)) == ["S10", "s4", "s2", "s3", "s1"]
    assert _keys(partition_table(ROWS, 1, sort="rows_train", desc=True))[0] == "S10"
    # An unknown column falls back to the partition key.
    assert _keys(partition_table(ROWS, 1, sort="nope")) == ["S10", "s1", "s2", "s3", "s4"]


def test_partition_table_filters_by_text_and_status_and_counts_all():
    table = partition_table(ROWS, 7, q="s1")
    assert _keys(table) == ["S10", "s1"]  # case-insensitive
    assert table["total"] == 5 and table["version"] == 7
    assert table["counts"] == {"trained": 3, "skipped": 1, "failed": 1}
    assert _keys(partition_table(ROWS, 7, status="trained", sort="auc")) == ["s2", "s4", "S10"]
    assert _keys(partition_table(ROWS, 7, q="s", status="failed")) == ["s1"]
    assert partition_table([], 1)["rows"] == []


def test_metric_chart_is_valid_svg_with_one_point_per_version_and_the_champion_marked():
    points = [
        {"version": 1, "value": 0.91, "aliases": ["previous"]},
        {"version": 2, "value": 0.95, "aliases": ["champion"]},
        {"version": 3, "value": 0.89, "aliases": ["challenger"]},
    ]
    svg = ET.fromstring(metric_chart(points, "roc_auc"))
    circles = svg.findall("circle")
    assert [c.get("data-version") for c in circles] == ["1", "2", "3"]
    champion = [c for c in circles if "champion" in c.get("class")]
    assert [c.get("data-version") for c in champion] == ["2"]
    # Higher values are drawn higher (smaller y).
    ys = {c.get("data-version"): float(c.get("cy")) for c in circles}
    assert ys["2"] < ys["1"] < ys["3"]
    single = ET.fromstring(metric_chart(points[:1], "roc_auc"))
    assert len(single.findall("circle")) == 1
    assert "No registered version" in metric_chart([], "roc_auc")


def _ticks(svg) -> list[float]:
    """The y-axis tick values of a chart (the x-axis ticks are version labels)."""
    return [
        float(t.text)
        for t in svg.findall("text")
        if t.get("class") == "tick" and t.get("text-anchor") == "end"
    ]


def test_the_chart_axis_stays_inside_the_metrics_range():
    """roc_auc cannot exceed 1.0 nor an error fall below 0: the padded axis is clamped."""
    near_one = [{"version": v, "value": value, "aliases": []} for v, value in ((1, 0.9), (2, 1.0))]
    assert max(_ticks(ET.fromstring(metric_chart(near_one, "roc_auc")))) == 1.0
    perfect = [{"version": 1, "value": 1.0, "aliases": []}]
    assert max(_ticks(ET.fromstring(metric_chart(perfect, "accuracy")))) == 1.0
    near_zero = [{"version": v, "value": value, "aliases": []} for v, value in ((1, 0.0), (2, 0.5))]
    assert min(_ticks(ET.fromstring(metric_chart(near_zero, "rmse")))) == 0.0
    # r2 has no floor: a negative r2 is drawn below 0.
    negative = [{"version": 1, "value": -0.2, "aliases": []}, {"version": 2, "value": 0.3}]
    negative[1]["aliases"] = []
    assert min(_ticks(ET.fromstring(metric_chart(negative, "r2")))) < -0.2
