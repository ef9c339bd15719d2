"""Drift between the champion's training data and new data: the stored profile and the scores
that compare with it."""
