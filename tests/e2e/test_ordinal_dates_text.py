"""More real tables end to end (dag.test(), real Airflow, MLflow, GX, scikit-learn):
ggplot2's diamonds (price from ordinal string grades), ggplot2's economics (a monthly date
column) and modeldata's Amazon reviews (free text through TF-IDF)."""

from __future__ import annotations

import pandas as pd

from helpers.pipelines import run
from helpers.real_data import diamonds, economics, reviews

PIPELINE = """\
pipeline: {name}
data:
  source: data/{file}
  target: {target}
  split: {{test_size: 0.25, seed: 5}}
validation:
  drift: null
features:
{features}
training:
  estimator: {estimator}
  params: {params}
evaluation:
  primary_metric: {metric}
  metrics: [{metrics}]
"""


def run_table(tmp_path, **fields: str) -> tuple[dict, dict[str, dict]]:
    """Run the pipeline PIPELINE makes of ``fields``; its result and logged feature plan."""
    path = tmp_path / f"{fields['name']}.yaml"
    path.write_text(PIPELINE.format(**fields))
    result = run(path)
    assert result["state"] == "success", result
    return result, _logged_plan(result["mlflow_run_id"])


def _logged_plan(run_id: str) -> dict[str, dict]:
    import mlflow

    plan = mlflow.artifacts.load_dict(f"runs:/{run_id}/features/plan.json")
    return {column["column"]: column for column in plan["columns"]}


def _champion(name: str):
    import mlflow

    from airflow_ml_provider.hooks.mlflow import MlflowHook

    MlflowHook().get_conn()
    return mlflow.pyfunc.load_model(f"models:/{name}@champion")


def test_diamond_prices_from_ordinal_grades(tmp_path, airflow_db):
    diamonds(tmp_path / "data")
    features = (
        "  columns:\n"
        "    rownames: ignore\n"
        "    cut: {type: categorical, encoding: ordinal,\n"
        "          order: [Fair, Good, Very Good, Premium, Ideal]}\n"
        "    color: {type: categorical, encoding: ordinal, order: [J, I, H, G, F, E, D]}\n"
        "    clarity: {type: categorical, encoding: ordinal,\n"
        "              order: [I1, SI2, SI1, VS2, VS1, VVS2, VVS1, IF]}"
    )
    result, plan = run_table(
        tmp_path,
        name="diamond_prices",
        file="diamonds.csv",
        target="price",
        features=features,
        estimator="sklearn.ensemble.HistGradientBoostingRegressor",
        params="{max_iter: 100, random_state: 1}",
        metric="r2",
        metrics="mae",
    )
    assert result["metrics"]["challenger"]["r2"] > 0.9
    assert plan["rownames"]["how"] == "declared"  # the file's row ids: not a feature
    assert plan["carat"]["type"] == "numeric"
    assert plan["cut"]["settings"]["encoding"] == "ordinal"
    assert plan["cut"]["settings"]["order"][-1] == "Ideal"

    rows = pd.read_csv(tmp_path / "data" / "diamonds.csv").drop(columns=["price", "rownames"])
    better = rows.head(1).assign(clarity="IF")
    worse = rows.head(1).assign(clarity="I1")
    champion = _champion("diamond_prices")
    assert champion.predict(better)[0] > champion.predict(worse)[0]


def test_a_monthly_table_with_a_date_column(tmp_path, airflow_db):
    economics(tmp_path / "data")
    result, plan = run_table(
        tmp_path,
        name="unemployment",
        file="economics.csv",
        target="unemploy",
        features="  datetime: {parts: [year, month], cyclical: true}",
        estimator="sklearn.ensemble.RandomForestRegressor",
        params="{n_estimators: 50, random_state: 1}",
        metric="r2",
        metrics="rmse",
    )
    assert result["metrics"]["challenger"]["r2"] > 0.8
    assert plan["date"]["type"] == "datetime"
    assert plan["date"]["how"] == "inferred"

    rows = pd.read_csv(tmp_path / "data" / "economics.csv").drop(columns="unemploy").tail(2)
    predicted = _champion("unemployment").predict(rows)
    assert len(predicted) == 2 and all(value > 0 for value in predicted)


def test_review_text_through_tfidf(tmp_path, airflow_db):
    reviews(tmp_path / "data")
    result, plan = run_table(
        tmp_path,
        name="review_scores",
        file="reviews.csv",
        target="score",
        features="  text: {max_features: 3000, ngram_range: [1, 2], min_df: 2}",
        estimator="sklearn.linear_model.LogisticRegression",
        params="{max_iter: 1000, C: 4.0}",
        metric="roc_auc",
        metrics="accuracy, f1",
    )
    assert result["metrics"]["challenger"]["roc_auc"] > 0.75
    assert 0 < result["metrics"]["challenger"]["f1"] <= 1  # 'other' vs 'great' labels
    assert plan["review"]["type"] == "text"

    champion = _champion("review_scores")
    rows = pd.DataFrame(
        {
            "product": ["B000000000", "B000000000"],
            "review": [
                "Absolutely delicious, the best coffee I have ever had. Will buy again!",
                "Terrible. Stale, broken and it tasted awful; a waste of money.",
            ],
        }
    )
    assert list(champion.predict(rows)) == ["great", "other"]
