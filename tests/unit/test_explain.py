"""SHAP importances (ml/evaluation/explain.py) on real scikit-learn models with the real shap
package:
on data whose label depends on one column, that column explains the most, for a tree
ensemble (TreeExplainer), a linear model (LinearExplainer) and a model shap does not know
(the permutation algorithm on its predictions)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.ensemble import RandomForestClassifier
from sklearn.linear_model import LinearRegression
from sklearn.neighbors import KNeighborsClassifier

from airflow_ml_provider.ml.evaluation.explain import shap_importances


def rows(n: int = 400) -> pd.DataFrame:
    generator = np.random.default_rng(3)
    return pd.DataFrame(
        {name: generator.normal(size=n) for name in ("signal", "noise_a", "noise_b", "noise_c")}
    )


@pytest.mark.parametrize(
    "model",
    [
        RandomForestClassifier(n_estimators=50, random_state=0),
        LinearRegression(),
        KNeighborsClassifier(),
    ],
    ids=["tree", "linear", "model-agnostic"],
)
def test_the_column_the_label_depends_on_explains_the_most(model):
    x = rows()
    y = 3 * x["signal"] if isinstance(model, LinearRegression) else (x["signal"] > 0).astype(int)
    model.fit(x, y)
    table = shap_importances(model, x, seed=7)
    assert [row["feature"] for row in table][0] == "signal"
    assert {row["feature"] for row in table} == set(x.columns)
    signal, *noise = (row["mean_abs_shap"] for row in table)
    assert signal > 3 * max(noise)


def test_only_the_fitted_columns_are_explained():
    x = rows()
    model = RandomForestClassifier(n_estimators=20, random_state=0).fit(
        x[["signal", "noise_a"]], (x["signal"] > 0).astype(int)
    )
    table = shap_importances(model, x.assign(extra=1.0), seed=7)
    assert [row["feature"] for row in table] == ["signal", "noise_a"]


def test_shap_runs_its_masking_helpers_without_compiling_them():
    """shap's masking helpers are numba functions that took ~11 s to compile in every new
    process; imported through ``import_shap`` they are plain Python, while numba still
    compiles functions decorated afterwards. A fresh interpreter, since shap may already be
    imported in this one."""
    probe = """
import sys
from airflow_ml_provider.ml.evaluation.explain import import_shap
shap = import_shap()
from numba import njit
from numba.core.dispatcher import Dispatcher
jitted = [f"{name}.{attr}" for name, module in list(sys.modules.items())
          if name.startswith("shap") for attr, value in vars(module).items()
          if isinstance(value, Dispatcher)]
assert not jitted, jitted

@njit
def later(x):
    return x + 1

assert isinstance(later, Dispatcher) and later(1) == 2
print("ok")
"""
    import subprocess
    import sys

    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True)
    assert done.returncode == 0 and done.stdout.strip() == "ok", done.stderr[-2000:]
