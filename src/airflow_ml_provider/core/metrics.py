"""The metric catalogue: names a YAML file may use, per task type, without importing sklearn."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

TaskType = Literal["classification", "regression"]


@dataclass(frozen=True)
class MetricInfo:
    """How a metric name maps to a scikit-learn scorer and which direction is better."""

    name: str
    task: TaskType
    scorer: str
    higher_is_better: bool = True
    low: float | None = 0.0
    """Smallest value the metric can take (None: unbounded)."""
    high: float | None = 1.0
    """Largest value the metric can take (None: unbounded)."""

    def reachable(self, bound: float) -> bool:
        """Whether a threshold (a floor when higher is better, else a ceiling) can be met."""
        if self.higher_is_better:
            return self.high is None or bound <= self.high
        return self.low is None or bound >= self.low


def _metric(
    name: str, task: TaskType, scorer: str | None = None, higher: bool = True
) -> MetricInfo:
    low: float | None
    high: float | None
    low, high = (0.0, 1.0) if task == "classification" and higher else (0.0, None)
    if name in ("r2", "explained_variance"):
        low, high = None, 1.0
    return MetricInfo(name, task, scorer or name, higher, low, high)


METRICS: dict[str, MetricInfo] = {
    m.name: m
    for m in (
        _metric("accuracy", "classification"),
        _metric("balanced_accuracy", "classification"),
        _metric("f1", "classification"),
        _metric("f1_macro", "classification"),
        _metric("f1_weighted", "classification"),
        _metric("precision", "classification"),
        _metric("recall", "classification"),
        _metric("roc_auc", "classification"),
        _metric("roc_auc_ovr", "classification"),
        _metric("average_precision", "classification"),
        _metric("log_loss", "classification", "neg_log_loss", higher=False),
        _metric("r2", "regression"),
        _metric("explained_variance", "regression"),
        _metric("rmse", "regression", "neg_root_mean_squared_error", higher=False),
        _metric("mse", "regression", "neg_mean_squared_error", higher=False),
        _metric("mae", "regression", "neg_mean_absolute_error", higher=False),
        _metric("mape", "regression", "neg_mean_absolute_percentage_error", higher=False),
        _metric("median_absolute_error", "regression", "neg_median_absolute_error", higher=False),
    )
}

# Estimator class names whose task type is not obvious from a Classifier/Regressor suffix.
_CLASSIFIERS = {
    "LogisticRegression",
    "LogisticRegressionCV",
    "SVC",
    "LinearSVC",
    "NuSVC",
    "GaussianNB",
    "MultinomialNB",
    "BernoulliNB",
    "ComplementNB",
    "CategoricalNB",
    "Perceptron",
    "LinearDiscriminantAnalysis",
    "QuadraticDiscriminantAnalysis",
    "NearestCentroid",
}
_REGRESSORS = {
    "LinearRegression",
    "Ridge",
    "RidgeCV",
    "Lasso",
    "LassoCV",
    "ElasticNet",
    "ElasticNetCV",
    "Lars",
    "LassoLars",
    "BayesianRidge",
    "ARDRegression",
    "SVR",
    "LinearSVR",
    "NuSVR",
    "KernelRidge",
    "HuberRegressor",
    "TheilSenRegressor",
    "PoissonRegressor",
    "TweedieRegressor",
    "GammaRegressor",
    "QuantileRegressor",
}


def guess_task_type(estimator_path: str) -> TaskType | None:
    """Infer the task type from the estimator's class name alone (cheap, parse-time safe)."""
    name = estimator_path.rsplit(".", 1)[-1]
    if name in _CLASSIFIERS or name.endswith("Classifier") or name.endswith("ClassifierCV"):
        return "classification"
    if name in _REGRESSORS or name.endswith("Regressor") or name.endswith("RegressorCV"):
        return "regression"
    return None


def metric_names(task: TaskType | None = None) -> list[str]:
    """Known metric names, optionally only those of one task type."""
    return [m.name for m in METRICS.values() if task is None or m.task == task]
