"""The champion/challenger decision: pure rules over metric values, no I/O."""

from __future__ import annotations

from collections.abc import Sequence
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


def partition_comparison(
    challenger: dict[str, dict],
    champion: dict[str, dict] | None,
    *,
    metric: str,
    max_regression: float,
    max_regressed_share: float,
    min_rows: int,
) -> tuple[RuleResult | None, list[dict]]:
    """The per-partition rule and table of a partitioned challenger.

    A partition is judged when it has at least ``min_rows`` held-out rows and the metric is
    defined for both models there; it regressed when the challenger is worse than the
    champion by more than ``max_regression``. The rule passes when the regressed share of
    judged partitions is at most ``max_regressed_share``. No champion: table only, no rule.
    """
    higher = METRICS[metric].higher_is_better
    table, judged, regressed = [], 0, 0
    for key, mine in sorted(challenger.items()):
        theirs = (champion or {}).get(key, {}).get("value")
        row = {"partition": key, "rows": mine["rows"], "challenger": mine["value"]}
        row["champion"] = theirs
        row["judged"] = bool(
            champion is not None
            and mine["rows"] >= min_rows
            and mine["value"] is not None
            and theirs is not None
        )
        row["regressed"] = False
        if row["judged"]:
            judged += 1
            delta = mine["value"] - theirs if higher else theirs - mine["value"]
            row["delta"] = delta
            row["regressed"] = delta < -max_regression
            regressed += row["regressed"]
        table.append(row)
    if champion is None:
        return None, table
    share = regressed / judged if judged else 0.0
    rule = RuleResult(
        rule="partitions_regressed",
        metric=metric,
        value=share,
        bound=max_regressed_share,
        passed=share <= max_regressed_share,
    )
    return rule, table


def decide(
    challenger: dict[str, float],
    champion: dict[str, float] | None,
    *,
    primary_metric: str,
    thresholds: dict[str, float],
    min_improvement: float,
    extra_rules: Sequence[RuleResult] = (),
) -> dict:
    """Promote iff every threshold holds and the primary metric beats the champion by
    at least ``min_improvement`` (in the metric's better direction), and every extra rule
    (the per-partition rule of a partitioned model) passed. No champion: thresholds only.
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
    rules.extend(extra_rules)
    promote = all(rule.passed for rule in rules)
    failed = [r for r in rules if not r.passed]
    if promote:
        reason = "all rules passed" if champion is not None else "first model; thresholds hold"
    else:
        reason = "; ".join(
            f"{r.rule} on {r.metric}: {r.value:.4f} vs bound {r.bound:.4f}" for r in failed
        )
    return {"promote": promote, "reason": reason, "rules": [asdict(r) for r in rules]}
