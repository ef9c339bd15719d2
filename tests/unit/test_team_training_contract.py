"""training.entrypoint and data.split.validation_size: what the YAML contract accepts and
refuses (file:line:column), how the training process resolves a team's function, and that a
validation set never takes a held-out row."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from airflow_ml_provider.pipeline_spec import load_pipeline
from airflow_ml_provider.pipeline_spec.options import LoaderOptions
from helpers.spec_files import GOOD, GOOD_TRAINING, errors_of, write

OLD_TRAINING = GOOD_TRAINING
ENTRYPOINT = """\
training:
  entrypoint: acme_models.train:boosted_trees
  task: classification
  params: {num_boost_round: 50}
"""
SPLIT = "split: {test_size: 0.25, seed: 7, stratify: true}"
WITH_VALIDATION = "split: {test_size: 0.2, seed: 7, stratify: true, validation_size: 0.2}"
ALLOWED = LoaderOptions.from_config(training_modules=("acme_models",))


def pipeline(training: str = ENTRYPOINT, split: str = WITH_VALIDATION) -> str:
    return GOOD.replace(OLD_TRAINING, training).replace(SPLIT, split)


def refused(tmp_path, text: str, options: LoaderOptions = ALLOWED) -> str:
    from airflow_ml_provider.pipeline_spec import SpecError

    with pytest.raises(SpecError) as caught:
        load_pipeline(write(tmp_path, text), options)
    return str(caught.value)


def test_an_allowed_entrypoint_builds_a_training_task_that_carries_it(tmp_path):
    from airflow_ml_provider.factory.builder import build_dag

    loaded = load_pipeline(write(tmp_path, pipeline()), ALLOWED)
    train = build_dag(loaded).get_task("train_model")
    assert train.entrypoint == "acme_models.train:boosted_trees"
    assert train.estimator is None
    assert train.estimator_params == {"num_boost_round": 50}
    assert train.split["validation_size"] == 0.2


def test_no_entrypoint_is_allowed_until_the_platform_allows_its_package(tmp_path):
    path = write(tmp_path, pipeline())
    assert (
        f"{path}:16:15: training.entrypoint: 'acme_models.train' is not an allowed training "
        "module; allowed packages are none (set [ml_provider] allowed_training_modules"
    ) in errors_of(path)


@pytest.mark.parametrize(
    ("entrypoint", "why"),
    [
        ("acme_models.train:_private", "'_private' is a private or invalid name"),
        ("acme_models._internal:fit", "'_internal' is a private name"),
        ("acme_models.train.boosted_trees", "expected package.module:function"),
        ("acme_models.testing:fit", "'testing' is a test, utility or internal module"),
    ],
)
def test_entrypoints_that_are_never_allowed(tmp_path, entrypoint, why):
    text = pipeline(ENTRYPOINT.replace("acme_models.train:boosted_trees", entrypoint))
    message = refused(tmp_path, text)
    assert ":16:15: training.entrypoint: " in message and why in message, message


def test_os_is_never_a_training_module_whatever_the_platform_sets(tmp_path):
    text = pipeline(ENTRYPOINT.replace("acme_models.train:boosted_trees", "os:system"))
    message = refused(tmp_path, text, LoaderOptions.from_config(training_modules=("os",)))
    assert "'os' is never allowed" in message, message


@pytest.mark.parametrize(
    ("training", "split", "expected"),
    [
        (
            ENTRYPOINT + "  estimator: sklearn.ensemble.RandomForestClassifier\n",
            WITH_VALIDATION,
            ":19:14: training.estimator: training.estimator and training.entrypoint exclude "
            "each other",
        ),
        (
            ENTRYPOINT.replace("  task: classification\n", ""),
            WITH_VALIDATION,
            ":16:15: training.entrypoint: acme_models.train:boosted_trees needs training.task",
        ),
        (
            OLD_TRAINING,
            WITH_VALIDATION,
            ":11:69: data.split.validation_size: a validation set is used only by a "
            "team's own trainer",
        ),
        (
            ENTRYPOINT,
            "split: {test_size: 0.5, seed: 7, stratify: true, validation_size: 0.45}",
            ":11:69: data.split.validation_size: test_size 0.5 + validation_size 0.45 leave "
            "under 10 % of the rows to train on",
        ),
    ],
)
def test_entrypoint_rules_are_reported_at_their_field(tmp_path, training, split, expected):
    message = refused(tmp_path, pipeline(training, split))
    assert expected in message, message


def test_the_training_process_resolves_only_functions_defined_where_named():
    from acme_models import train
    from airflow_ml_provider.ml.integrity.allowed_code import (
        DisallowedCodeError,
        resolve_entrypoint,
    )

    assert resolve_entrypoint("acme_models.train:mlp", ("acme_models",)) is train.mlp
    with pytest.raises(DisallowedCodeError, match="re-exported by acme_models.reexport"):
        resolve_entrypoint("acme_models.reexport:mlp", ("acme_models",))
    with pytest.raises(DisallowedCodeError, match="is a type, not a function"):
        resolve_entrypoint("acme_models.train:TrainedModel", ("acme_models",))
    with pytest.raises(DisallowedCodeError, match="is nothing, not a function"):
        resolve_entrypoint("acme_models.train:missing", ("acme_models",))
    with pytest.raises(DisallowedCodeError, match="not an allowed training module"):
        resolve_entrypoint("acme_models.train:mlp", ())


def test_a_validation_set_comes_from_the_training_rows_only():
    from airflow_ml_provider.ml.data.dataset import split_frame

    rng = np.random.default_rng(0)
    frame = pd.DataFrame({"x": rng.normal(size=1000), "y": rng.integers(0, 2, size=1000)})
    settings = {"target": "y", "features": None, "test_size": 0.2, "seed": 3, "stratify": True}
    plain = split_frame(frame, task="classification", **settings)
    three = split_frame(frame, task="classification", validation_size=0.2, **settings)
    assert list(three.test_positions) == list(plain.test_positions)  # the same held-out rows
    validation = set(three.x_validation.index)
    assert len(validation) == 200 and three.rows_train == 600
    assert not validation & set(three.test_positions)
    assert not validation & set(three.x_train.index)
    assert validation | set(three.x_train.index) == set(plain.x_train.index)
    assert abs(three.y_validation.mean() - frame["y"].mean()) < 0.02  # stratified
