"""``python -m airflow_ml_provider.cli``: the ``airflow-ml`` command."""

import sys

from airflow_ml_provider.cli.main import console

if __name__ == "__main__":  # not when a tool walks the package's modules
    sys.exit(console())
