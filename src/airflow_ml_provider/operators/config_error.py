"""The single task of a broken-config DAG: it fails with the file's error message."""

from __future__ import annotations

from typing import Any

from airflow.sdk import BaseOperator
from airflow.sdk.exceptions import AirflowFailException


class ConfigErrorOperator(BaseOperator):
    """Fails with ``message`` (the YAML file's errors, with file:line:column).

    :param message: the errors, one per line.
    """

    ui_color = "#ffd6d6"

    def __init__(self, *, message: str, **kwargs: Any) -> None:
        super().__init__(retries=0, **kwargs)
        self.message = message

    def execute(self, context) -> None:
        raise AirflowFailException(f"this pipeline's YAML file is invalid:\n{self.message}")
