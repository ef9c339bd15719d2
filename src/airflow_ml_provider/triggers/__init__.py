"""Triggers that run in Airflow's triggerer (no worker slot while they wait)."""
