"""Scoring a model on the held-out rows and deciding: metrics, the gate's rules, plots,
explanations, any MLflow flavor seen as an estimator."""
