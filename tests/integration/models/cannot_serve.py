"""A real pyfunc model (MLflow models-from-code) whose predictions fail, as a model missing a
feature would."""

import mlflow.pyfunc
from mlflow.models import set_model


class CannotServe(mlflow.pyfunc.PythonModel):
    def predict(self, context, model_input, params=None):
        raise ValueError("column 'tenure' is missing")


set_model(CannotServe())
