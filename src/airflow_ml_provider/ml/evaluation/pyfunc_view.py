"""A model of any allowed MLflow flavor as the gate asks a scikit-learn estimator.

A training entrypoint's model (LightGBM or XGBoost Booster, PyTorch) is scored, gated and
served through MLflow's pyfunc interface, the one MLServer and batch scoring use: the gate
sees exactly the answers serving will give. No Airflow imports.
"""

from __future__ import annotations

from typing import Any

CLASSES_KEY = "airflow_ml_classes"
"""MLmodel metadata: the labels a classifier's probability columns stand for."""
TASK_KEY = "airflow_ml_task"


class PyfuncView:
    """``predict`` (labels or numbers) and, when the model answers one probability column
    per class, ``predict_proba`` — the responses scikit-learn's scorers and the gate use —
    of a loaded pyfunc model; ``classes_`` for a classifier; ``feature_names_in_`` from its
    signature, so a champion keeps scoring after a column is added."""

    def __init__(self, model: Any, task: str, classes: list[Any] | None) -> None:
        self._model = model
        self._classifier = task == "classification"
        if self._classifier:
            import numpy as np

            self.classes_ = np.asarray(classes if classes is not None else [])
        signature = model.metadata.get_input_schema()
        names = signature.input_names() if signature is not None else None
        if names and all(isinstance(name, str) for name in names):
            self.feature_names_in_ = list(names)

    @classmethod
    def load(cls, local_path: str) -> PyfuncView:
        """The model at ``local_path`` (a verified copy, ml.integrity.model_files)."""
        import mlflow

        model = mlflow.pyfunc.load_model(local_path)
        metadata = model.metadata.metadata or {}
        return cls(model, metadata.get(TASK_KEY, "regression"), metadata.get(CLASSES_KEY))

    def responses(self, rows) -> dict[str, Any]:
        """Every answer for ``rows`` from one pyfunc call (see ``ml.responses``)."""
        import numpy as np

        raw = self._model.predict(rows)
        values = np.asarray(getattr(raw, "to_numpy", lambda: raw)())
        if values.ndim == 2 and values.shape[1] == 1:
            values = values[:, 0]
        if values.ndim == 1:
            return {"predict": values}
        if not self._classifier or values.shape[1] != len(self.classes_):
            raise ValueError(
                f"the model answers {values.shape[1]} columns per row; expected one (a label "
                "or a number) or, for a classifier, one probability per class "
                f"({len(getattr(self, 'classes_', []))})"
            )
        return {"predict": self.classes_[values.argmax(axis=1)], "predict_proba": values}

    def fit(self, rows, labels):
        """Never called: permutation importance asks that an estimator has ``fit``; a logged
        model is scored, not refitted."""
        raise NotImplementedError("a logged model is scored as it is, not refitted")

    def predict(self, rows):
        return self.responses(rows)["predict"]

    def predict_proba(self, rows):
        answers = self.responses(rows)
        if "predict_proba" not in answers:
            raise AttributeError("the model answers labels only, no class probabilities")
        return answers["predict_proba"]

    def __sklearn_tags__(self):
        from airflow_ml_provider.ml.evaluation.scoring import answering_tags

        return answering_tags(self._classifier)
