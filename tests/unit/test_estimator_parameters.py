"""Estimator parameters YAML may not set: every spelling LightGBM itself accepts for a
parameter that reads or writes files or opens network connections is refused, checked
against LightGBM's own alias table so a new alias in a LightGBM release fails here."""

from __future__ import annotations

import pytest
from lightgbm.basic import _ConfigAliases

from airflow_ml_provider.core.allow_lists import parameter_name_problem, params_problems

LIGHTGBM_FILE_OR_NETWORK = (
    "output_model",
    "input_model",
    "output_result",
    "save_binary",
    "forcedsplits_filename",
    "forcedbins_filename",
    "machine_list_filename",
    "data",
    "valid",
    "config",
    "convert_model",
    "parser_config_file",
    "snapshot_freq",
    "task",
    "machines",
    "num_machines",
    "local_listen_port",
    "time_out",
)
"""LightGBM's parameters (canonical names, from its Parameters page) that name files to read
or write, make it save models as it trains, or start distributed training over sockets."""


def _aliases() -> dict[str, list[str]]:
    return _ConfigAliases._get_all_param_aliases()  # LightGBM's table, read from its C library


def test_every_lightgbm_parameter_naming_a_file_is_in_the_list():
    file_like = [name for name in _aliases() if "file" in name or "machine" in name]
    assert file_like, "LightGBM's alias table could not be read"
    assert set(file_like) <= set(LIGHTGBM_FILE_OR_NETWORK)


@pytest.mark.parametrize("canonical", LIGHTGBM_FILE_OR_NETWORK)
def test_every_alias_of_a_lightgbm_file_or_network_parameter_is_refused(canonical):
    aliases = _aliases().get(canonical) or [canonical]
    accepted = [alias for alias in aliases if parameter_name_problem(alias) is None]
    assert accepted == []
    upper = aliases[-1].upper()  # case does not open a way round
    assert parameter_name_problem(f"model__{upper}") is not None


def test_network_parameters_are_refused_as_network_reach_and_ordinary_ones_pass():
    refused = dict(params_problems({"workers": "10.0.0.1:12400", "port": 12400, "n_jobs": 2}))
    assert set(refused) == {"workers", "port"}
    assert "network" in refused["workers"]
    for ordinary in ("num_leaves", "learning_rate", "n_estimators", "max_iter", "C", "min_data"):
        assert parameter_name_problem(ordinary) is None
