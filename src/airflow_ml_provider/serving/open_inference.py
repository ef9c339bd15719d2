"""MLflow's serving input example as an Open Inference Protocol (KServe V2) request, and the
predictions out of a V2 response.

KServe serves MLflow models with MLServer, which speaks the V2 protocol: one named tensor per
column, decoded back into a DataFrame (``content_type: pd``). The model's logged
``serving_input_example.json`` (``dataframe_split`` or ``dataframe_records``) becomes such a
request, so a deployment can smoke-test the server with the model's own example. No imports
beyond the standard library.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from typing import Any

from airflow_ml_provider.core.errors import DeploymentFailed

# MLflow column types (a model signature's ``inputs``) -> V2 datatypes. The server enforces
# the signature strictly on tensors (an INT64 tensor for a double column is refused), so a
# column the signature types is sent as that type; ``any`` and unknown columns are inferred.
_DATATYPES = {
    "double": "FP64",
    "float": "FP32",
    "long": "INT64",
    "integer": "INT32",
    "boolean": "BOOL",
    "string": "BYTES",
    "binary": "BYTES",
    "datetime": "BYTES",
}


def column_types(signature_inputs: str | list[dict[str, Any]] | None) -> dict[str, str]:
    """Column name -> MLflow type from a model signature's ``inputs`` (the JSON string in
    MLmodel, or its list); empty for a model without a column signature."""
    if not signature_inputs:
        return {}
    specs = json.loads(signature_inputs) if isinstance(signature_inputs, str) else signature_inputs
    return {spec["name"]: spec["type"] for spec in specs if "name" in spec and "type" in spec}


def v2_request(
    serving_input: str | dict[str, Any], types: dict[str, str] | None = None
) -> dict[str, Any]:
    """The V2 inference request for an MLflow serving input (JSON text or its dict), each
    column as the type ``types`` (column_types of the model's signature) gives it."""
    body = json.loads(serving_input) if isinstance(serving_input, str) else serving_input
    columns = _columns(body)
    types = types or {}
    return {
        "inputs": [
            _tensor(name, values, _DATATYPES.get(types.get(name, "any")))
            for name, values in columns.items()
        ],
        "parameters": {"content_type": "pd"},
    }


def v2_predictions(response: dict[str, Any]) -> list[Any]:
    """The predictions of a V2 response: its first output, one value per row."""
    outputs = response.get("outputs") or []
    if not outputs:
        raise ValueError(f"the V2 response has no outputs: {str(response)[:300]}")
    return list(outputs[0]["data"])


def _columns(body: dict[str, Any]) -> dict[str, list[Any]]:
    if "dataframe_split" in body:
        split = body["dataframe_split"]
        names = list(split["columns"])
        return {name: [row[i] for row in split["data"]] for i, name in enumerate(names)}
    if "dataframe_records" in body:
        records = body["dataframe_records"]
        names = list(dict.fromkeys(key for record in records for key in record))
        return {name: [record.get(name) for record in records] for name in names}
    raise ValueError("a serving input needs dataframe_split or dataframe_records")


def _tensor(name: str, values: list[Any], datatype: str | None) -> dict[str, Any]:
    """One column as a V2 tensor of ``datatype`` (inferred when None); missing values stay
    null (NaN / None in the DataFrame)."""
    datatype = datatype or _inferred(values)
    data = [_as(datatype, value) for value in values]
    return {"name": name, "shape": [len(values)], "datatype": datatype, "data": data}


def _inferred(values: list[Any]) -> str:
    present = [value for value in values if value is not None]
    if present and all(isinstance(value, bool) for value in present):
        return "BOOL"
    if all(isinstance(value, int) and not isinstance(value, bool) for value in values):
        return "INT64"  # no nulls: an integer column with a null is a float one
    if all(isinstance(value, int | float) and not isinstance(value, bool) for value in present):
        return "FP64"
    return "BYTES"


def _as(datatype: str, value: Any) -> Any:
    if value is None:
        return None
    if datatype in ("FP64", "FP32"):
        return float(value)
    if datatype == "BYTES":
        return value if isinstance(value, str) else str(value)
    return value


def post_example(url: str, model: str, request: dict[str, Any], version: str) -> None:
    """POST a V2 inference request to ``<url>/v2/models/<model>/infer``; raise
    DeploymentFailed, in one line, unless it answers one prediction per row."""
    endpoint = f"{url.rstrip('/')}/v2/models/{model}/infer"
    body = json.dumps(request).encode()
    try:
        with urllib.request.urlopen(
            urllib.request.Request(endpoint, body, {"Content-Type": "application/json"}),
            timeout=60,
        ) as answer:
            predictions = v2_predictions(json.loads(answer.read()))
    except urllib.error.HTTPError as error:
        detail = _server_error(error.read().decode(errors="replace"))
        raise DeploymentFailed(
            f"version {version} did not predict on the model's input example over V2 "
            f"(HTTP {error.code}: {detail})"
        ) from None
    except (OSError, ValueError) as error:
        raise DeploymentFailed(f"{endpoint} did not answer: {error}") from None
    rows = request["inputs"][0]["shape"][0] if request["inputs"] else 0
    if len(predictions) != rows:
        raise DeploymentFailed(
            f"version {version} answered {len(predictions)} predictions for {rows} rows"
        )


def _server_error(body: str) -> str:
    """The one line of a model server's error answer that says what went wrong (its JSON
    ``error`` / ``detail``, or a traceback's last line)."""
    try:
        answer = json.loads(body)
    except ValueError:
        answer = None
    if isinstance(answer, dict) and (answer.get("error") or answer.get("detail")):
        return str(answer.get("error") or answer.get("detail"))[:300]
    lines = [line.strip() for line in body.strip().splitlines() if line.strip()]
    return (lines[-1] if lines else "no answer")[:300]
