"""The registered form of a training entrypoint's PyTorch model: an MLflow "models from
code" pyfunc that answers raw rows.

MLflow stores this file with the model (no pickle). The network itself is a nested MLflow
PyTorch model saved as pt2 (``torch.export``), loaded here with MLflow's own check that the
archive holds no pickle (MLFLOW_ALLOW_PICKLE_DESERIALIZATION off for the load). ``predict``
takes rows with the feature columns by name, in any order, turns them into one float32
tensor in the order the network was trained on, and returns the network's answer: one number
a row, or one probability per class.
"""

from __future__ import annotations

from typing import Any

import mlflow
from mlflow.pyfunc import PythonModel

NETWORK = "network"
"""The artifact holding the nested pt2 model."""


class TorchRows(PythonModel):
    """Pyfunc wrapper of an exported network over named feature columns."""

    network: Any = None
    columns: list[str] = []

    def load_context(self, context) -> None:
        from airflow_ml_provider.core.env import scoped_environ

        with scoped_environ({"MLFLOW_ALLOW_PICKLE_DESERIALIZATION": "false"}):
            self.network = mlflow.pytorch.load_model(context.artifacts[NETWORK])
        self.columns = list(context.model_config["columns"])

    def predict(self, context, model_input, params: dict[str, Any] | None = None):
        import numpy as np
        import torch

        assert self.network is not None, "load_context was not called"
        rows = model_input[self.columns].to_numpy(dtype=np.float32)
        with torch.no_grad():
            return self.network(torch.from_numpy(rows)).numpy()


mlflow.models.set_model(TorchRows())
