"""An estimator that remembers which process fitted it (tests of process-level parallelism:
a monkeypatch does not reach joblib's worker processes, a fitted attribute comes back)."""

from __future__ import annotations

import os

from sklearn.linear_model import LogisticRegression


class ProcessRecordingLogisticRegression(LogisticRegression):
    """LogisticRegression whose fit records ``fitted_in_pid_``."""

    def fit(self, X, y, sample_weight=None):
        self.fitted_in_pid_ = os.getpid()
        return super().fit(X, y, sample_weight=sample_weight)
