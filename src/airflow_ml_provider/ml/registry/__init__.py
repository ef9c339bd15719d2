"""The MLflow model registry: aliases (champion, challenger, previous), promotion and rollback,
which pipeline owns a model."""
