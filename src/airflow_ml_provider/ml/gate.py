"""The champion/challenger decision: pure rules over metric values, no I/O."""

from __future__ import annotations

from dataclasses import asdict, dataclass

from airflow_ml_provider.spec.metrics import METRICS


@dataclass(frozen=True)
class RuleResult:
    """One rule of the gate with the value it saw and the bound it needed."""

    rule: str
    metric: str
    value: float
    bound: float
    passed: bool


def decide(
    challenger: dict[str, float],
    champion: dict[str, float] | None,
    *,
    primary_metric: str,
    thresholds: dict[str, float],
    min_improvement: float,
) -> dict:
    """Promote iff every threshold holds and the primary metric beats the champion by
    at least ``min_improvement`` (in the metric's better direction). No champion: thresholds only.
    """
    rules: list[RuleResult] = []
    for metric, bound in thresholds.items():
        value = challenger[metric]
        higher = METRICS[metric].higher_is_better
        rules.append(
            RuleResult(
                rule="threshold_min" if higher else "threshold_max",
                metric=metric,
                value=value,
                bound=bound,
                passed=value >= bound if higher else value <= bound,
            )
        )
    if champion is not None and primary_metric in champion:
        higher = METRICS[primary_metric].higher_is_better
        base = champion[primary_metric]
        bound = base + min_improvement if higher else base - min_improvement
        value = challenger[primary_metric]
        rules.append(
            RuleResult(
                rule="beats_champion",
                metric=primary_metric,
                value=value,
                bound=bound,
                passed=value >= bound if higher else value <= bound,
            )
        )
    promote = all(rule.passed for rule in rules)
    failed = [r for r in rules if not r.passed]
    if promote:
        reason = "all rules passed" if champion is not None else "first model; thresholds hold"
    else:
        reason = "; ".join(
            f"{r.rule} on {r.metric}: {r.value:.4f} vs bound {r.bound:.4f}" for r in failed
        )
    return {"promote": promote, "reason": reason, "rules": [asdict(r) for r in rules]}
