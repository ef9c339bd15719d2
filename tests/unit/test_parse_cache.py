"""The content-hash parse cache: an unchanged pipeline file is not read through the YAML
loader again; any change to what its data depends on (the file, its defaults.yaml, the
variables it may expand) is seen at once; a cache entry never makes an invalid spec valid."""

from __future__ import annotations

import json
import shutil

import pytest

from airflow_ml_provider.pipeline_spec import SpecError, load_pipeline
from airflow_ml_provider.pipeline_spec import loader as spec_loader
from airflow_ml_provider.pipeline_spec.options import LoaderOptions
from helpers.paths import EXAMPLE_CSV, EXAMPLE_YAML


@pytest.fixture
def pipeline(tmp_path):
    folder = tmp_path / "pipelines"
    (folder / "data").mkdir(parents=True)
    shutil.copyfile(EXAMPLE_CSV, folder / "data" / EXAMPLE_CSV.name)
    path = folder / "example.yaml"
    path.write_text(EXAMPLE_YAML.read_text())
    return path


@pytest.fixture
def options(tmp_path):
    return LoaderOptions.from_config(parse_cache=tmp_path / "cache", env_prefixes=("AIRFLOW_ML_",))


@pytest.fixture
def yaml_reads(monkeypatch):
    """Every path the positioned YAML loader reads (the real loader, counted)."""
    reads = []
    real = spec_loader.load_positioned

    def counting(path, *args, **kwargs):
        reads.append(path.name)
        return real(path, *args, **kwargs)

    monkeypatch.setattr(spec_loader, "load_positioned", counting)
    return reads


def test_an_unchanged_file_is_not_parsed_again(pipeline, options, yaml_reads):
    first = load_pipeline(pipeline, options)
    assert yaml_reads == ["example.yaml"]
    second = load_pipeline(pipeline, options)
    assert yaml_reads == ["example.yaml"]  # the second load came from the cache
    assert second.spec == first.spec
    assert second.config_hash == first.config_hash
    assert second.source == first.source
    assert len(list(options.parse_cache.iterdir())) == 1


def test_a_changed_file_is_parsed_again(pipeline, options, yaml_reads):
    load_pipeline(pipeline, options)
    pipeline.write_text(pipeline.read_text().replace("retries: 2", "retries: 4"))
    loaded = load_pipeline(pipeline, options)
    assert loaded.spec.retries == 4
    assert yaml_reads == ["example.yaml", "example.yaml"]
    assert len(list(options.parse_cache.iterdir())) == 1  # one entry per file, replaced


def test_a_changed_defaults_file_is_seen(pipeline, options):
    text = pipeline.read_text()
    pipeline.write_text(text.replace("retries: 2\n", ""))
    defaults = pipeline.parent / "defaults.yaml"
    defaults.write_text("retries: 1\n")
    assert load_pipeline(pipeline, options).spec.retries == 1
    defaults.write_text("retries: 3\n")
    assert load_pipeline(pipeline, options).spec.retries == 3


def test_an_allowed_variable_is_expanded_again_when_it_changes(pipeline, options):
    pipeline.write_text(
        pipeline.read_text().replace("retries: 2", "retries: ${AIRFLOW_ML_RETRIES}")
    )
    assert load_pipeline(pipeline, options, environ={"AIRFLOW_ML_RETRIES": "1"}).spec.retries == 1
    assert load_pipeline(pipeline, options, environ={"AIRFLOW_ML_RETRIES": "5"}).spec.retries == 5
    with pytest.raises(SpecError, match=r"variable \$\{AIRFLOW_ML_RETRIES\} is not set"):
        load_pipeline(pipeline, options, environ={})


def test_an_invalid_file_is_never_cached_and_keeps_its_position(pipeline, options):
    pipeline.write_text(pipeline.read_text().replace("retries: 2", "retries: many"))
    for _ in range(2):
        with pytest.raises(SpecError) as caught:
            load_pipeline(pipeline, options)
        assert f"{pipeline}:" in str(caught.value) and "retries" in str(caught.value)
    assert not options.parse_cache.exists() or not list(options.parse_cache.iterdir())


def test_a_tampered_entry_cannot_bring_in_a_refused_estimator(pipeline, options):
    """Validation (where the allow-lists live) runs on cached data too: an entry rewritten
    to name an estimator outside the allow-list is refused, and the file is read again."""
    load_pipeline(pipeline, options)
    (entry,) = options.parse_cache.iterdir()
    stored = json.loads(entry.read_text())
    stored["data"]["training"]["estimator"] = "os.system"
    entry.write_text(json.dumps(stored))
    loaded = load_pipeline(pipeline, options)
    assert loaded.spec.training.estimator == "sklearn.ensemble.RandomForestClassifier"


def test_the_cache_can_be_turned_off(pipeline, tmp_path, yaml_reads):
    off = LoaderOptions.from_config(parse_cache=None)
    load_pipeline(pipeline, off)
    load_pipeline(pipeline, off)
    assert yaml_reads == ["example.yaml", "example.yaml"]
    assert not (tmp_path / "cache").exists()
