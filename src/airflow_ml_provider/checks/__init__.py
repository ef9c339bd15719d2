"""The heavy checks of a pipeline file, run by `airflow-ml check`, before `airflow-ml run` and
at the start of training — never while Airflow parses the DAG folder: the estimator and its
parameters (scikit-learn's own constraints), notifiers, expectations, a pinned schema, and the
pipeline against a sample of its data."""
