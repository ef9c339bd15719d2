"""A model's held-out answers are computed a batch of rows at a time (ml/responses.py), so a
pipeline's transformed copy of millions of rows is never whole in memory: the answers must be
exactly those of one pass. Real table: palmerpenguins (numbers with missing values, text
categories), a scikit-learn pipeline of imputers, one-hot encoding, scaling and a model."""

from __future__ import annotations

import numpy as np
import palmerpenguins
import pytest
from sklearn.compose import make_column_transformer
from sklearn.ensemble import HistGradientBoostingRegressor
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import FunctionTransformer, OneHotEncoder, StandardScaler

from airflow_ml_provider.ml.responses import responses

NUMBERS = ["bill_length_mm", "bill_depth_mm", "flipper_length_mm"]
TEXT = ["island", "sex"]


def _preprocessing():
    return make_column_transformer(
        (make_pipeline(SimpleImputer(strategy="median"), StandardScaler()), NUMBERS),
        (make_pipeline(SimpleImputer(strategy="most_frequent"), OneHotEncoder()), TEXT),
    )


@pytest.mark.parametrize(
    ("target", "model", "methods"),
    [
        ("species", LogisticRegression(max_iter=500), {"predict", "predict_proba",
                                                       "decision_function"}),
        ("body_mass_g", HistGradientBoostingRegressor(random_state=0), {"predict"}),
    ],
)  # fmt: skip
def test_answers_in_batches_are_the_answers_of_one_pass(target, model, methods):
    penguins = palmerpenguins.load_penguins().dropna(subset=[target])
    rows, y = penguins[NUMBERS + TEXT], penguins[target]
    seen: list[int] = []  # rows each transform is given

    def count(x):
        seen.append(x.shape[0])
        return x

    fitted = make_pipeline(FunctionTransformer(count), _preprocessing(), model).fit(rows, y)
    seen.clear()
    whole = responses(fitted, rows, batch_rows=len(rows))
    assert seen == [len(rows)]
    seen.clear()
    batched = responses(fitted, rows, batch_rows=50)  # 7 batches, the last one short
    assert seen == [50] * (len(rows) // 50) + [len(rows) % 50]
    assert set(whole) == set(batched) == methods
    np.testing.assert_array_equal(batched["predict"], whole["predict"])
    np.testing.assert_array_equal(batched["predict"], fitted.predict(rows))
    for method in methods - {"predict"}:
        assert batched[method].shape == whole[method].shape
        np.testing.assert_allclose(batched[method], whole[method], rtol=0, atol=1e-12)
