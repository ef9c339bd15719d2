"""The step plan: every task a pipeline's DAG can have, in run order, and when it applies.

The one home of the DAG's shape. The spec's `steps:` names, the step rules, `build_dag` (one
builder per step, factory/steps.py), the DAG's doc flow line, the local runner's task order
and the run summary's roles all derive from STEPS. Adding a step is one entry here, one
builder and its operator. No imports from the project: the spec is only read.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal, get_args

if TYPE_CHECKING:
    from airflow_ml_provider.pipeline_spec.models import PipelineSpec


StepName = Literal[
    "wait_for_data", "snapshot_data", "validate_data", "check_changes", "train_model",
    "train_candidates", "select_model", "plan_partitions", "train_partitions",
    "assemble_model", "evaluate_model", "approve_promotion", "register_model", "deploy_model",
    "score_batch", "notify",
]  # fmt: skip
"""Every task id a pipeline's DAG can have; STEPS (below) gives each its place and rule."""


@dataclass(frozen=True)
class Step:
    """One task of the pipeline DAG."""

    task_id: StepName
    when: Callable[[PipelineSpec], bool] | None = None
    """Whether a pipeline has this step (None: every pipeline)."""
    role: str | None = None
    """What the run summary reads from this task's result (snapshot, training, ...)."""
    flow: Callable[[PipelineSpec], str] | None = None
    """How the doc flow line names the step, when more than its task id."""
    optional: bool = False
    """Not in a pipeline that asks for nothing extra (no wait, partitions, approval, batch)."""
    needs_change: bool = False
    """Skipped by check_changes when the data and configuration equal the champion's."""

    def applies(self, spec: PipelineSpec) -> bool:
        return self.when is None or self.when(spec)


def _partitioned(spec: PipelineSpec) -> bool:
    return spec.data.partition_by is not None


def _candidates(spec: PipelineSpec) -> bool:
    return bool(spec.training.candidate_list)


STEPS: tuple[Step, ...] = (
    Step("wait_for_data", when=lambda spec: spec.data.wait is not None, optional=True),
    Step("snapshot_data", role="snapshot"),
    Step("validate_data", role="validation"),
    Step("check_changes", role="changes"),
    Step(
        "train_model",
        when=lambda spec: not (_partitioned(spec) or _candidates(spec)),
        role="training",
        needs_change=True,
    ),
    Step(
        "train_candidates",
        when=_candidates,
        optional=True,
        flow=lambda spec: "train_candidates (one task per candidate, cross-validated)",
        needs_change=True,
    ),
    Step("select_model", when=_candidates, role="training", optional=True, needs_change=True),
    Step("plan_partitions", when=_partitioned, optional=True, needs_change=True),
    Step(
        "train_partitions",
        when=_partitioned,
        optional=True,
        flow=lambda spec: f"train_partitions (one task per {spec.data.partition_by} chunk)",
        needs_change=True,
    ),
    Step("assemble_model", when=_partitioned, role="training", optional=True, needs_change=True),
    Step("evaluate_model", role="decision", needs_change=True),
    Step(
        "approve_promotion",
        when=lambda spec: spec.asks_for_approval,
        optional=True,
        needs_change=True,
    ),
    Step("register_model", role="registration", needs_change=True),
    Step("deploy_model", role="deployment", needs_change=True),
    Step(
        "score_batch",
        when=lambda spec: spec.deployment.strategy == "batch",
        role="scoring",
        optional=True,
    ),
    Step("notify"),
)
STEP_NAMES: tuple[StepName, ...] = tuple(step.task_id for step in STEPS)
assert sorted(STEP_NAMES) == sorted(get_args(StepName)), "each step name has one Step"
DEFAULT_PLAN: tuple[str, ...] = tuple(step.task_id for step in STEPS if not step.optional)
"""The plan of a pipeline without waiting, partitions, approval or batch scoring."""


def plan(spec: PipelineSpec) -> list[Step]:
    """The steps of this pipeline's DAG, in run order."""
    return [step for step in STEPS if step.applies(spec)]


def pipeline_steps(spec: PipelineSpec) -> list[str]:
    """The task ids of this pipeline's DAG, in run order."""
    return [step.task_id for step in plan(spec)]


def flow_line(spec: PipelineSpec) -> str:
    """The DAG's steps as one readable line (the DAG's docs)."""
    return " → ".join(step.flow(spec) if step.flow else step.task_id for step in plan(spec))


def summary_roles(spec: PipelineSpec) -> dict[str, str]:
    """role → task id of the steps whose results the run summary reads."""
    return {step.role: step.task_id for step in plan(spec) if step.role}
