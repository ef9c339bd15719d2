"""Which module prefixes YAML may name code from — one check for every allow-list (estimators,
notifiers, transformers), reading the list from pydantic's validation context — and the
default of each allow-list."""

from __future__ import annotations

from pydantic import ValidationInfo

DEFAULT_ESTIMATOR_PREFIXES = ("sklearn.", "lightgbm.", "xgboost.")
DEFAULT_NOTIFIER_PREFIXES = ("airflow.providers.",)
DEFAULT_TRANSFORMER_PREFIXES = ("sklearn.",)
DEFAULT_ENV_PREFIXES = ("AIRFLOW_ML_",)
"""The defaults of the [ml_provider] allow-lists (estimators, notifiers, team transformers,
environment variables ${VAR} may read)."""


def in_allowed_module(
    value: str, info: ValidationInfo, setting: str, default: tuple[str, ...]
) -> str:
    """``value`` (a dotted path) if it starts with a prefix of the ``setting`` allow-list
    (``[ml_provider] <setting>``, passed in the validation context; else ``default``)."""
    prefixes = tuple((info.context or {}).get(setting) or default)
    if not value.startswith(prefixes):
        raise ValueError(
            f"{value!r} is not in an allowed module; allowed prefixes are "
            f"{', '.join(prefixes)} (set [ml_provider] {setting} to add more)"
        )
    return value
