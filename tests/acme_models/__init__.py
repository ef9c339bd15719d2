"""A team's own training code, as a platform would install it next to Airflow: the tests
allow it with ``[ml_provider] allowed_training_modules = acme_models``."""
