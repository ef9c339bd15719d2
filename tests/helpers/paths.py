"""Where the repository and its example pipeline are."""

from __future__ import annotations

from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
EXAMPLE_YAML = REPO / "dags" / "pipelines" / "breast_cancer.yaml"
EXAMPLE_CSV = REPO / "dags" / "pipelines" / "data" / "breast_cancer.csv"
