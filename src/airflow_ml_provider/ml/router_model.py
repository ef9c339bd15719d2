"""The registered form of a partitioned model: an MLflow "models from code" pyfunc.

MLflow stores this file with the model (no pickle); loading it runs ``set_model`` below.
``load_context`` rebuilds the ``PartitionedModel`` from the model's artifacts (skops files
of sub-models) and ``model_config``; ``predict`` takes rows with the partition column and
the features and returns one prediction per row.
"""

from __future__ import annotations

from typing import Any

import mlflow
from mlflow.pyfunc import PythonModel

from airflow_ml_provider.ml.partitioned import PartitionedModel, load_partitioned_model


class PartitionRouter(PythonModel):
    """Pyfunc wrapper of a PartitionedModel; ``router`` is the scikit-learn compatible model."""

    router: PartitionedModel | None = None

    def load_context(self, context) -> None:
        self.router = load_partitioned_model(dict(context.model_config), dict(context.artifacts))

    def predict(self, context, model_input, params: dict[str, Any] | None = None):
        assert self.router is not None, "load_context was not called"
        return self.router.predict(model_input)


mlflow.models.set_model(PartitionRouter())
