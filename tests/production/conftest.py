"""One production-shaped Airflow (helpers/production.py) shared by every test here."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from helpers.production import Production, production_airflow


@pytest.fixture(scope="session")
def production(tmp_path_factory) -> Iterator[Production]:
    with production_airflow(tmp_path_factory.mktemp("production")) as deployment:
        yield deployment
