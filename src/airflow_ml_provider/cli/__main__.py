"""``python -m airflow_ml_provider.cli``: the ``airflow-ml`` command."""

import sys

from airflow_ml_provider.cli.main import console

sys.exit(console())
