"""Serving a model over HTTP on Kubernetes: manifests and rollouts (no Airflow imports)."""
