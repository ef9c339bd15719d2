"""Defaults that a YAML section and the operator (or deployer) it configures share — each
stated once here, so a hand-written DAG and a YAML pipeline behave alike. A test compares
every spec section's defaults with its operator's signature (tests/unit/test_defaults.py).
Connection ids live in core.connections."""

from __future__ import annotations

from typing import Any, Literal, get_args

SPLIT_TEST_SIZE = 0.25
SPLIT_SEED = 0
SPLIT_STRATIFY = True
DEFAULT_SPLIT: dict[str, Any] = {
    "test_size": SPLIT_TEST_SIZE,
    "seed": SPLIT_SEED,
    "stratify": SPLIT_STRATIFY,
}
"""The train/held-out split when nothing says otherwise (data.split)."""

CANARY_DURATION_SECONDS = 900.0
"""How long a canary must stay healthy (15 minutes)."""
CANARY_INTERVAL_SECONDS = 30.0
"""How often a canary is checked."""
CanaryCheck = Literal["ready", "no_restarts", "smoke_test"]
CANARY_CHECKS: tuple[CanaryCheck, ...] = get_args(CanaryCheck)
"""What a Kubernetes canary is checked for."""
ROLLOUT_TIMEOUT_SECONDS = 600.0
"""How long a rollout (or KServe's Ready) may take before it counts as failed."""
ROLLOUT_POLL_SECONDS = 2.0
"""How often a rollout is polled."""
SERVING_REPLICAS = 2
SERVING_PORT = 8080
KServeMode = Literal["serverless", "raw"]
KSERVE_MODE: KServeMode = "serverless"
KSERVE_MIN_REPLICAS = 1
KSERVE_MAX_REPLICAS = 3
TRAINING_STARTUP_SECONDS = 600.0
"""How long a training pod may take to start."""

BASELINE_MIN_IMPROVEMENT = "1%"
"""How much the primary metric must beat the trivial baseline's (evaluation.baseline)."""
PER_PARTITION_DEFAULTS: dict[str, Any] = {
    "max_regression": 0.05,
    "max_regressed_share": 0.1,
    "min_rows": 30,
}
"""The per-partition gate of partitioned models (evaluation.per_partition)."""
SLICE_DEFAULTS: dict[str, Any] = {"max_gap": None, "max_regression": 0.0, "min_rows": 30}
"""Each slice of the gate (evaluation.slices[])."""
