"""Run a measurement in a fresh Python process and read back the JSON line it prints last."""

from __future__ import annotations

import json
import subprocess
import sys
from typing import Any


def json_from_child(args: list[str], env: dict[str, str], what: str) -> dict[str, Any]:
    """``python *args`` with ``env``; its last stdout line as JSON, or exit naming ``what``."""
    done = subprocess.run(
        [sys.executable, *args], capture_output=True, text=True, env=env, check=False
    )
    if done.returncode != 0:
        raise SystemExit(f"{what} failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])
