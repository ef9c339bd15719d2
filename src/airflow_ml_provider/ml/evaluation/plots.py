"""The standard evaluation pictures of the gate's held-out rows, challenger next to champion
on the same rows: confusion matrices, ROC and precision-recall curves and calibration for
classifiers, predicted-vs-actual and residuals for regressors. Drawn with scikit-learn's own
Display classes on a matplotlib canvas without a screen; logged by evaluate_model as
``gate/plots/<name>.png`` and shown on the pipeline page. No Airflow imports.
"""

from __future__ import annotations

from typing import Any

PLOTS_FOLDER = "gate/plots"
CLASSIFICATION_PLOTS = ("confusion_matrix", "roc_curve", "precision_recall", "calibration")
REGRESSION_PLOTS = ("predicted_vs_actual", "residuals")
CAPTIONS = {
    "confusion_matrix": "Confusion matrix (held-out rows)",
    "roc_curve": "ROC curve",
    "precision_recall": "Precision-recall curve",
    "calibration": "Calibration (reliability)",
    "predicted_vs_actual": "Predicted vs actual",
    "residuals": "Residuals vs predicted",
}


def plot_path(name: str) -> str:
    return f"{PLOTS_FOLDER}/{name}.png"


def evaluation_figures(
    task: str, labels, answers: dict[str, dict[str, Any]], classes=None, positive: Any = None
) -> dict[str, Any]:
    """``{plot name: matplotlib Figure}`` for ``answers`` (``{"challenger": {...},
    "champion": {...}}``, each a model's responses for the held-out rows by method, as
    ``ml.responses.responses`` gives them) against ``labels``. Curves need a binary
    target and
    probabilities (``positive`` is the positive class); the confusion matrix any classes."""
    import matplotlib

    matplotlib.use("Agg", force=False)
    if task == "classification":
        return _classification(labels, answers, classes, positive)
    return _regression(labels, answers)


def _figure(columns: int = 1):
    from matplotlib.figure import Figure

    figure = Figure(figsize=(5.2 * columns, 4.4), layout="constrained")
    return figure, figure.subplots(1, columns, squeeze=False)[0]


def _classification(labels, answers, classes, positive) -> dict[str, Any]:
    import numpy as np
    from sklearn.calibration import CalibrationDisplay
    from sklearn.metrics import ConfusionMatrixDisplay, PrecisionRecallDisplay, RocCurveDisplay

    figures: dict[str, Any] = {}
    figure, axes = _figure(len(answers))
    for ax, (name, given) in zip(axes, answers.items(), strict=True):
        ConfusionMatrixDisplay.from_predictions(
            labels, given["predict"], labels=classes, ax=ax, colorbar=False
        )
        ax.set_title(name)
    figures["confusion_matrix"] = figure
    binary = classes is not None and len(classes) == 2 and positive is not None
    if not binary or not all("predict_proba" in given for given in answers.values()):
        return figures
    column = list(classes).index(positive)
    scores = {
        name: np.asarray(given["predict_proba"])[:, column] for name, given in answers.items()
    }
    curves = (
        ("roc_curve", RocCurveDisplay),
        ("precision_recall", PrecisionRecallDisplay),
        ("calibration", CalibrationDisplay),
    )
    for plot, display in curves:
        figure, (ax,) = _figure()
        for name, probability in scores.items():
            if display is CalibrationDisplay:
                display.from_predictions(
                    labels, probability, pos_label=positive, n_bins=10, name=name, ax=ax
                )
            else:
                display.from_predictions(labels, probability, pos_label=positive, name=name, ax=ax)
        ax.set_title(f"{CAPTIONS[plot]} (positive class {positive!r})")
        figures[plot] = figure
    return figures


def _regression(labels, answers) -> dict[str, Any]:
    from sklearn.metrics import PredictionErrorDisplay

    figures: dict[str, Any] = {}
    for plot, kind in (("predicted_vs_actual", "actual_vs_predicted"), ("residuals", None)):
        figure, axes = _figure(len(answers))
        for ax, (name, given) in zip(axes, answers.items(), strict=True):
            PredictionErrorDisplay.from_predictions(
                labels,
                given["predict"],
                kind=kind or "residual_vs_predicted",
                subsample=2000,
                random_state=0,
                ax=ax,
            )
            ax.set_title(name)
        figures[plot] = figure
    return figures
