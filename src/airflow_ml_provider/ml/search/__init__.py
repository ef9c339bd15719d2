"""Hyper-parameter search: scikit-learn's cross-validated searches and Optuna studies (shared
by workers)."""
