"""The feature plan in words: the table ``airflow-ml check`` prints and every training run
logs (``features/plan.txt`` and ``features/plan.json`` in MLflow). No Airflow imports."""

from __future__ import annotations

from dataclasses import asdict

from airflow_ml_provider.ml.features.column_types import CUSTOM, ColumnPlan

PLAN_TEXT = "features/plan.txt"
PLAN_JSON = "features/plan.json"


def describe(plan: ColumnPlan) -> str:
    """The preprocessing of one column in a few words (for the feature table)."""
    s = plan.settings
    if plan.type == "numeric":
        steps = [f"impute {s['impute']}" if s["impute"] != "none" else "no imputation"]
        if s["clip"]:
            steps.append(f"clip to quantiles {list(s['clip'])}")
        if s["log1p"]:
            steps.append("log1p")
        steps.extend(_scaling(s))
        return ", ".join(steps)
    if plan.type == "categorical":
        encoding = s["encoding"]
        detail = {
            "onehot": f"onehot (max {s['max_categories']} categories + infrequent)",
            "ordinal": f"ordinal {list(s['order'])}" if s.get("order") else "ordinal",
            "auto": "auto (each candidate's estimator decides)",
            "native": f"native (max {s['native_limit']} categories + infrequent)"
            if s.get("native_limit")
            else "native",
        }.get(encoding, encoding)
        imputed = "" if encoding in ("native", "ordinal", "auto") else f"impute {s['impute']}, "
        return imputed + detail
    if plan.type == "boolean":
        return "as 0/1" + (f", impute {s['impute']}" if s["impute"] != "none" else "")
    if plan.type == "datetime":
        extra = ", sin/cos" if s["cyclical"] else ""
        since = f", days since {s['days_since']}" if s["days_since"] else ""
        scaled = "".join(f", {step}" for step in _scaling(s))
        return f"parts {', '.join(s['parts'])}{extra}{since}{scaled}"
    if plan.type == "text":
        tokenizer = f", tokenizer {s['tokenizer']}" if s["tokenizer"] else ""
        ngrams = "-".join(map(str, s["ngram_range"]))
        sublinear = ", sublinear tf" if s.get("sublinear_tf") else ""
        components = s.get("components")
        reduced = {None: "", "auto": ", components auto (each candidate's estimator decides)"}
        svd = reduced.get(components, f", reduced to {components} components (SVD)")
        return (
            f"tf-idf {s['analyzer']} {ngrams}-grams, max {s['max_features']}"
            f"{sublinear}{tokenizer}{svd}"
        )
    if plan.type == CUSTOM:
        return "team transformer"
    return "dropped"


def _scaling(settings: dict) -> list[str]:
    scale = settings.get("scale", "none")
    if scale == "auto":
        return ["scale auto (each candidate's estimator decides)"]
    return [] if scale == "none" else [f"scale {scale}"]


def feature_table(plans: list[ColumnPlan]) -> str:
    """The plan as an aligned text table: column, type, how it was decided, preprocessing."""
    rows = [("column", "type", "from", "preprocessing")]
    rows += [
        (
            plan.column,
            plan.type,
            plan.how + (f" ({plan.note})" if plan.note else ""),
            describe(plan),
        )
        for plan in plans
    ]
    widths = [max(len(row[i]) for row in rows) for i in range(3)]
    return "\n".join(
        "  ".join(cell.ljust(width) for cell, width in zip(row[:3], widths, strict=True))
        + "  "
        + row[3]
        for row in rows
    )


def _decided(plan: ColumnPlan) -> str:
    return plan.how + (f" ({plan.note})" if plan.note else "")


def log_feature_plan(plans: list[ColumnPlan]) -> None:
    """The plan as text and JSON on the active MLflow run."""
    import mlflow

    mlflow.log_text(feature_table(plans), PLAN_TEXT)
    mlflow.log_dict(
        {"columns": [{**asdict(plan), "preprocessing": describe(plan)} for plan in plans]},
        PLAN_JSON,
    )
