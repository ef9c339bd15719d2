"""Pod resources as YAML writes them: how many GPUs a pod asks for (no Kubernetes import)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

GPU_RESOURCE = "nvidia.com/gpu"
"""The extended resource NVIDIA's device plugin advertises; ``gpu: N`` is its limit."""


def gpus_asked(resources: Mapping[Any, Any] | None) -> int:
    """How many GPUs ``resources`` ask for (``gpu: N`` or an ``nvidia.com/gpu`` limit)."""
    resources = resources or {}
    limit = (resources.get("limits") or {}).get(GPU_RESOURCE) or 0
    return int(resources.get("gpu") or 0) or int(str(limit))
