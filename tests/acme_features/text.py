"""Team text features: a character-bigram tokenizer (what a Japanese tokenizer stands in
for: text without spaces) and a transformer counting words and characters."""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, TransformerMixin


def character_bigrams(text: str) -> list[str]:
    """Overlapping two-character tokens, spaces dropped."""
    compact = "".join(text.split())
    return [compact[i : i + 2] for i in range(max(len(compact) - 1, 0))]


class TextLength(TransformerMixin, BaseEstimator):
    """Words and characters of each text column (2 numbers per column)."""

    def __init__(self, per_word: bool = True) -> None:
        self.per_word = per_word

    def fit(self, x, y=None):
        self.columns_ = list(pd.DataFrame(x).columns)
        return self

    def transform(self, x):
        frame = pd.DataFrame(x).fillna("").astype(str)
        parts = [frame[c].str.len().to_numpy() for c in frame.columns]
        if self.per_word:
            parts += [frame[c].str.split().str.len().to_numpy() for c in frame.columns]
        return np.column_stack(parts).astype(float)

    def get_feature_names_out(self, input_features=None):
        names = [f"{c}_chars" for c in self.columns_]
        return np.asarray(names + ([f"{c}_words" for c in self.columns_] if self.per_word else []))
