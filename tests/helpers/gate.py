"""Reading the gate's decision."""

from __future__ import annotations


def rules(decision: dict) -> dict[str, dict]:
    return {r["rule"]: r for r in decision["rules"]}
