"""serving.open_inference: MLflow serving inputs as Open Inference Protocol (V2) tensors."""

from __future__ import annotations

import json

import pytest

from airflow_ml_provider.serving.open_inference import column_types, v2_predictions, v2_request

SPLIT = {
    "dataframe_split": {
        "columns": ["island", "flipper_length_mm", "year", "smoker", "note"],
        "data": [["Biscoe", 181, 2007, True, None], ["Dream", None, 2008, False, "x"]],
    }
}


def tensors(request: dict) -> dict[str, tuple[str, list]]:
    return {t["name"]: (t["datatype"], t["data"]) for t in request["inputs"]}


def test_without_a_signature_each_column_type_is_inferred_and_nulls_stay():
    request = v2_request(json.dumps(SPLIT))
    assert request["parameters"] == {"content_type": "pd"}
    assert tensors(request) == {
        "island": ("BYTES", ["Biscoe", "Dream"]),
        "flipper_length_mm": ("FP64", [181, None]),  # an integer column with a null
        "year": ("INT64", [2007, 2008]),
        "smoker": ("BOOL", [True, False]),
        "note": ("BYTES", [None, "x"]),
    }
    assert all(t["shape"] == [2] for t in request["inputs"])


def test_the_signature_decides_the_tensor_type_and_converts_values():
    """The server enforces the signature strictly on tensors: 181 goes as 181.0 for a
    double column, 2007 as text for a string column; ``any`` is inferred."""
    signature = json.dumps(
        [
            {"type": "double", "name": "flipper_length_mm", "required": True},
            {"type": "string", "name": "year", "required": True},
            {"type": "any", "name": "island", "required": True},
        ]
    )
    types = column_types(signature)
    assert types == {"flipper_length_mm": "double", "year": "string", "island": "any"}
    found = tensors(v2_request(SPLIT, types))
    assert found["flipper_length_mm"] == ("FP64", [181.0, None])
    assert found["year"] == ("BYTES", ["2007", "2008"])
    assert found["island"] == ("BYTES", ["Biscoe", "Dream"])


def test_records_and_responses():
    records = {"dataframe_records": [{"a": 1.5}, {"a": 2.5, "b": "late"}]}
    assert tensors(v2_request(records)) == {
        "a": ("FP64", [1.5, 2.5]),
        "b": ("BYTES", [None, "late"]),
    }
    assert v2_predictions({"outputs": [{"name": "output-1", "data": ["Adelie"]}]}) == ["Adelie"]
    with pytest.raises(ValueError, match="has no outputs"):
        v2_predictions({"outputs": []})
    with pytest.raises(ValueError, match="dataframe_split or dataframe_records"):
        v2_request({"instances": [1, 2]})
    assert column_types(None) == {}
