"""Code that runs inside the training pod or the local training process.

Nothing here imports Airflow: only pandas, scikit-learn and MLflow.
"""
