"""Per-feature drift on scikit-learn's breast-cancer data: PSI, KS, Wasserstein, the report and
the JSON profile a baseline is reduced to."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from scipy import stats
from sklearn.datasets import load_breast_cancer

from airflow_ml_provider.ml.drift.detection import (
    METHODS,
    drift_report,
    drift_summary_line,
    format_drift_table,
)
from airflow_ml_provider.ml.drift.profile import profile_frame

# Two halves of 284/285 rows differ by sampling noise alone by up to psi 0.18, ks 0.12 and
# wasserstein 0.20 (worst fractal dimension); the default thresholds are meant for larger
# snapshots, so the tests state thresholds that fit this sample size.
HALF_THRESHOLDS = {"psi": 0.3, "ks": 0.2, "wasserstein": 0.3}
SHIFTED = "mean radius"


@pytest.fixture(scope="module")
def frames() -> tuple[pd.DataFrame, pd.DataFrame]:
    """Even rows as the baseline, odd rows as the current snapshot, plus a string column
    ("size") and a bool column ("malignant") derived from the data."""
    frame = load_breast_cancer(as_frame=True).frame
    bounds = [0, 500, 1000, np.inf]
    frame["size"] = pd.cut(frame["mean area"], bounds, labels=["small", "medium", "large"])
    frame["size"] = frame["size"].astype(str)
    frame["malignant"] = frame["target"] == 0
    return frame.iloc[::2].reset_index(drop=True), frame.iloc[1::2].reset_index(drop=True)


@pytest.fixture
def baseline(frames) -> pd.DataFrame:
    return frames[0].copy()


@pytest.fixture
def current(frames) -> pd.DataFrame:
    return frames[1].copy()


@pytest.fixture
def shifted(baseline, current) -> pd.DataFrame:
    moved = current.copy()
    moved[SHIFTED] += 2 * baseline[SHIFTED].std()
    return moved


def report_for(baseline, current, method="psi", **kwargs) -> dict:
    return drift_report(
        baseline, current, method=method, threshold=HALF_THRESHOLDS[method], **kwargs
    )


def entry(report: dict, column: str) -> dict:
    return next(e for e in report["columns"] if e["column"] == column)


def plain(value) -> bool:
    """Only JSON's own python types, all the way down."""
    if isinstance(value, dict):
        return all(type(k) is str and plain(v) for k, v in value.items())
    if isinstance(value, list):
        return all(plain(v) for v in value)
    return value is None or type(value) in (str, int, float, bool)


@pytest.mark.parametrize("method", METHODS)
def test_same_distribution_does_not_drift(baseline, current, method):
    report = report_for(baseline, current, method)
    assert report["drift"] is False
    assert report["drifted_columns"] == []
    assert len(report["columns"]) == 33 and report["skipped"] == []
    kinds = {e["column"]: (e["kind"], e["method"]) for e in report["columns"]}
    assert kinds["mean radius"] == ("numeric", method)
    assert kinds["size"] == kinds["malignant"] == ("categorical", "psi")


@pytest.mark.parametrize("method", METHODS)
def test_one_shifted_feature_is_the_only_drifted_column(baseline, shifted, method):
    report = report_for(baseline, shifted, method)
    assert report["drift"] is True
    assert report["drifted_columns"] == [SHIFTED]
    assert report["drifted_share"] == pytest.approx(1 / 33)
    moved = entry(report, SHIFTED)
    assert moved["score"] > 2 * HALF_THRESHOLDS[method]
    assert moved["current_mean"] > moved["baseline_mean"]
    assert (moved["baseline_rows"], moved["current_rows"]) == (285, 284)


def test_default_thresholds_apply_when_none_is_given(baseline, shifted):
    report = drift_report(baseline, shifted, method="ks")
    assert report["threshold"] == 0.1
    assert entry(report, SHIFTED)["threshold"] == 0.1
    assert entry(report, "size")["threshold"] == 0.2  # categoricals are scored with PSI


def test_column_threshold_overrides_the_method_threshold(baseline, current, shifted):
    report = report_for(baseline, shifted, column_thresholds={SHIFTED: 1000.0})
    assert entry(report, SHIFTED)["threshold"] == 1000.0
    assert report["drifted_columns"] == [] and report["drift"] is False

    strict = report_for(baseline, current, column_thresholds={"mean texture": 0.0})
    assert strict["drifted_columns"] == ["mean texture"]


def test_max_drifted_share_decides_dataset_drift(baseline, shifted):
    tolerant = report_for(baseline, shifted, max_drifted_share=0.05)
    assert tolerant["drifted_columns"] == [SHIFTED]
    assert tolerant["drift"] is False
    assert report_for(baseline, shifted, max_drifted_share=0.02)["drift"] is True


@pytest.mark.parametrize("method", METHODS)
def test_categorical_with_a_new_category_drifts(baseline, current, method):
    small = current.index[current["size"] == "small"]
    current.loc[small[::2], "size"] = "tiny"
    current.loc[current["size"] == "large", "size"] = "medium"
    report = report_for(baseline, current, method)
    size = entry(report, "size")
    assert (size["kind"], size["method"]) == ("categorical", "psi")
    assert size["drifted"] is True and report["drifted_columns"] == ["size"]
    assert size["new_categories"] == ["tiny"]
    assert size["baseline_mean"] is None and size["current_mean"] is None


def test_categorical_with_the_same_distribution_does_not_drift(baseline, current):
    size = entry(report_for(baseline, current), "size")
    assert size["drifted"] is False and size["score"] < 0.05
    assert size["new_categories"] == []


def test_a_jump_in_nulls_drifts_under_psi(baseline, current):
    current.loc[::3, "mean texture"] = np.nan
    report = report_for(baseline, current, "psi")
    assert report["drifted_columns"] == ["mean texture"]
    assert entry(report, "mean texture")["current_rows"] == len(current)
    # KS compares the values that are there, and those did not move
    assert report_for(baseline, current, "ks")["drifted_columns"] == []


def test_constant_columns_score_zero_and_a_moved_constant_drifts(baseline, current):
    baseline["constant"], current["constant"] = 1.5, 1.5
    baseline["moved"], current["moved"] = 1.0, 2.0
    for method in METHODS:
        report = report_for(baseline, current, method, columns=["constant", "moved"])
        assert entry(report, "constant")["score"] == 0.0
        assert report["drifted_columns"] == ["moved"]


def test_a_rare_value_becoming_common_drifts_under_psi(baseline, current):
    """A 0/1 column with 5% ones in the baseline: its quantiles are all 0, yet 1 keeps a bin."""
    rare = baseline["mean area"].quantile(0.95)
    baseline["large"] = (baseline["mean area"] > rare).astype(int)
    current["large"] = (current["mean area"] > current["mean area"].median()).astype(int)
    assert entry(report_for(baseline, current, columns=["large"]), "large")["drifted"] is True


def test_columns_in_one_frame_only_are_ignored_unless_asked_for(baseline, current):
    baseline["id"] = np.arange(len(baseline))
    current["batch"] = "b2"
    report = report_for(baseline, current)
    names = [e["column"] for e in report["columns"]]
    assert "id" not in names and "batch" not in names and report["skipped"] == []

    asked = report_for(baseline, current, columns=[SHIFTED, "id", "nowhere"])
    assert [e["column"] for e in asked["columns"]] == [SHIFTED]
    assert asked["skipped"] == [
        {"column": "id", "reason": "missing in current"},
        {"column": "nowhere", "reason": "missing in baseline and current"},
    ]


def test_datetime_and_all_null_columns_are_skipped_with_a_reason(baseline, current):
    baseline["measured_at"] = pd.date_range("2024-01-01", periods=len(baseline), freq="h")
    current["measured_at"] = pd.date_range("2024-03-01", periods=len(current), freq="h")
    current["mean texture"] = np.nan
    report = report_for(baseline, current)
    reasons = {s["column"]: s["reason"] for s in report["skipped"]}
    assert reasons["measured_at"].startswith("unsupported dtype datetime64")
    assert reasons["mean texture"] == "all 284 values are null in current"
    assert len(report["columns"]) == 32


@pytest.mark.parametrize("method", METHODS)
def test_report_is_strict_json(baseline, current, method):
    current.loc[::3, "mean texture"] = np.nan
    current.loc[current["size"] == "large", "size"] = "huge"
    baseline["measured_at"] = current["measured_at"] = pd.Timestamp("2024-01-01")
    report = report_for(baseline, current, method)
    assert plain(report)
    assert json.loads(json.dumps(report, allow_nan=False)) == report


def test_ks_and_wasserstein_scores_equal_scipy(baseline, current):
    ks = report_for(baseline, current, "ks")
    wasserstein = report_for(baseline, current, "wasserstein")
    for column in load_breast_cancer().feature_names:
        base, cur = baseline[column].to_numpy(), current[column].to_numpy()
        expected_ks = stats.ks_2samp(base, cur).statistic
        expected_w = stats.wasserstein_distance(base, cur) / np.std(base)
        assert entry(ks, column)["score"] == pytest.approx(expected_ks, abs=1e-12)
        assert entry(wasserstein, column)["score"] == pytest.approx(expected_w, rel=1e-9)


def test_table_and_summary_name_the_drifted_column(baseline, shifted):
    report = report_for(baseline, shifted)
    score = f"{entry(report, SHIFTED)['score']:.4g}"
    table = format_drift_table(report)
    row = next(line for line in table.splitlines() if line.startswith(SHIFTED))
    assert row.split() == [*SHIFTED.split(), "numeric", "psi", score, "0.3", "DRIFT"]
    assert table.splitlines()[-1] == "1 of 33 columns drifted (3.0%), allowed 0.0%: DRIFT"
    assert drift_summary_line(report) == f"drift in 1 of 33 columns: {SHIFTED} (psi {score} > 0.3)"


def test_table_and_summary_without_drift(baseline, current):
    current["mean texture"] = np.nan
    report = report_for(baseline, current)
    table = format_drift_table(report)
    assert "DRIFT" not in table
    assert "skipped mean texture: all 284 values are null in current" in table
    assert table.splitlines()[-1] == "0 of 32 columns drifted (0.0%), allowed 0.0%: ok"
    assert drift_summary_line(report) == "no drift in 32 columns (psi); 1 skipped"


def test_bad_arguments_are_refused(baseline, current):
    with pytest.raises(ValueError, match="unknown drift method 'chi2'"):
        drift_report(baseline, current, method="chi2")
    with pytest.raises(ValueError, match="neither frame: mean radias"):
        drift_report(baseline, current, column_thresholds={"mean radias": 0.5})


def json_round_trip(value):
    return json.loads(json.dumps(value, allow_nan=False))


def test_profile_is_strict_json_and_scores_like_the_frame(baseline, current):
    baseline.loc[::4, "mean texture"] = np.inf
    baseline.loc[::5, "size"] = None
    baseline["measured_at"] = current["measured_at"] = pd.Timestamp("2024-01-01")
    current.loc[current["size"] == "large", "size"] = "huge"
    profile = profile_frame(baseline)
    assert plain(profile)
    loaded = json_round_trip(profile)
    assert loaded == profile
    assert (loaded["version"], loaded["rows"], list(loaded["columns"])) == (
        1,
        285,
        [str(c) for c in baseline.columns],
    )
    radius = loaded["columns"]["mean radius"]
    assert radius["kind"] == "numeric" and radius["sketched"] is False
    assert radius["values"] == sorted(baseline["mean radius"])  # 285 values: all kept
    assert radius["mean"] == pytest.approx(baseline["mean radius"].mean())
    assert sum(radius["bin_shares"]) == pytest.approx(1.0)
    texture = loaded["columns"]["mean texture"]
    assert texture["null_share"] == pytest.approx(72 / 285) and texture["count"] == 213
    size = loaded["columns"]["size"]
    assert size["kind"] == "categorical" and sum(size["counts"].values()) == size["count"]
    assert loaded["columns"]["measured_at"]["kind"] == "skipped"
    assert loaded["columns"]["measured_at"]["reason"].startswith("unsupported dtype datetime64")
    for method in METHODS:
        from_frame = report_for(baseline, current, method)
        assert report_for(loaded, current, method) == from_frame
        assert from_frame["skipped"][0]["reason"].startswith("unsupported dtype datetime64")


def decile_psi(base: np.ndarray, cur: np.ndarray) -> float:
    """PSI over the baseline's deciles written out plainly (no repeated values, no nulls)."""
    edges = np.quantile(base, np.linspace(0, 1, 11))[1:-1]
    shares = [
        np.bincount(np.searchsorted(edges, x, "right"), minlength=10) / len(x) for x in (base, cur)
    ]
    base_shares, cur_shares = (np.maximum(share, 1e-4) for share in shares)
    return float(np.sum((cur_shares - base_shares) * np.log(cur_shares / base_shares)))


def test_a_sketched_profile_is_close_to_exact_on_200k_rows():
    rng = np.random.default_rng(42)
    base = pd.DataFrame({"x": rng.normal(0.0, 1.0, 200_000)})
    cur = pd.DataFrame({"x": rng.normal(0.05, 1.1, 200_000)})
    profile = json_round_trip(profile_frame(base, quantiles=1001))
    column = profile["columns"]["x"]
    assert column["sketched"] is True and len(column["values"]) == 1001
    assert column["values"][0] == base["x"].min() and column["values"][-1] == base["x"].max()
    scores = {m: drift_report(profile, cur, method=m)["columns"][0]["score"] for m in METHODS}
    x, y = base["x"].to_numpy(), cur["x"].to_numpy()
    assert scores["ks"] == pytest.approx(stats.ks_2samp(x, y).statistic, abs=2e-3)
    exact_w = stats.wasserstein_distance(x, y) / np.std(x)
    assert scores["wasserstein"] == pytest.approx(exact_w, abs=2e-3)
    assert scores["psi"] == drift_report(base, cur)["columns"][0]["score"]
    assert scores["psi"] == pytest.approx(decile_psi(x, y), rel=1e-12)


def test_a_categorical_beyond_max_categories_is_skipped_with_a_reason(baseline, current):
    baseline["patient"] = [f"p{i}" for i in range(len(baseline))]
    current["patient"] = [f"p{i}" for i in range(len(current))]
    profile = json_round_trip(profile_frame(baseline, max_categories=100))
    patient = profile["columns"]["patient"]
    assert patient["too_many_categories"] is True and patient["counts"] is None
    assert patient["categories"] == 285
    assert profile["columns"]["size"]["too_many_categories"] is False
    report = report_for(profile, current)
    assert report["skipped"] == [
        {
            "column": "patient",
            "reason": "285 categories in baseline, over its profile's max_categories",
        }
    ]
    assert len(report["columns"]) == 33


def test_the_profile_of_1m_rows_by_20_columns_is_small():
    rng = np.random.default_rng(0)
    columns = rng.random((20, 1_000_000))  # one column per row: a frame without a copy
    frame = pd.DataFrame(columns.T, columns=[f"f{i}" for i in range(20)], copy=False)
    frame["f19"] = (frame["f19"] * 10).round().astype("int64")  # an int column of 11 values
    size = len(json.dumps(profile_frame(frame), allow_nan=False).encode())
    print(f"profile of 1,000,000 x 20: {size:,} bytes")
    assert size < 1_000_000


def test_profile_arguments_and_versions_are_checked(baseline, current):
    with pytest.raises(ValueError, match="quantiles must be at least 2"):
        profile_frame(baseline, quantiles=1)
    with pytest.raises(ValueError, match="bins must be at least 1"):
        profile_frame(baseline, bins=0)
    with pytest.raises(ValueError, match="version 2; expected 1"):
        drift_report({**profile_frame(baseline), "version": 2}, current)
    with pytest.raises(TypeError, match="DataFrame or a profile"):
        drift_report([1, 2], current)


@pytest.mark.parametrize(
    ("yaml_drift", "drifted"), [("{}", True), (f"{{columns: {{{SHIFTED}: 1000}}}}", False)]
)
def test_the_yaml_per_column_thresholds_reach_validate_datas_check(
    tmp_path, baseline, shifted, yaml_drift, drifted
):
    """validation.drift.columns (per-column thresholds) are what validate_data's drift check
    uses: the shifted column drifts at the default threshold, not under its own 1000."""
    from airflow_ml_provider.factory.builder import build_dag
    from airflow_ml_provider.pipeline_spec import load_pipeline
    from helpers.spec_files import GOOD, write

    text = GOOD.replace("validation:\n", f"validation:\n  drift: {yaml_drift}\n")
    task = build_dag(load_pipeline(write(tmp_path, text))).get_task("validate_data")
    report = drift_report(baseline, shifted, **{**task.drift, "columns": None})
    assert (SHIFTED in report["drifted_columns"]) is drifted
