"""The ``airflow-ml`` command: its sub-commands, the local runner behind ``run`` and ``demo``,
``up``'s local Airflow, and what each prints. Nothing outside this package imports it."""

from airflow_ml_provider.cli.main import build_parser, console, main

__all__ = ["build_parser", "console", "main"]
