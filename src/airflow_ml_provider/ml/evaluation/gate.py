"""The champion/challenger decision: pure rules over metric values, no I/O."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import cast

from airflow_ml_provider.core.contracts import GateDecision, GateRule
from airflow_ml_provider.core.metrics import METRICS

FIRST_RUN_RULE = "first_run_requires_approval"
FIRST_RUN_REASON = (
    "first model: promotion needs a person's approval (evaluation.first_run: require_approval)"
)

BASELINE_RULE = "beats_baseline"

# The per-partition comparison evaluate_model logs on the challenger's run.
PARTITION_TABLE = "gate/partitions.csv"


@dataclass(frozen=True)
class RuleResult:
    """One rule of the gate with the value it saw and the bound it needed."""

    rule: str
    metric: str
    value: float
    bound: float
    passed: bool


def better_by(metric: str, value: float, base: float) -> float:
    """How much ``value`` beats ``base`` in the metric's better direction (negative: worse)."""
    return value - base if METRICS[metric].higher_is_better else base - value


def _at_least_as_good(rule: str, metric: str, value: float, bound: float) -> RuleResult:
    """A rule that passes when ``value`` is at ``bound`` or better in the metric's direction."""
    higher = METRICS[metric].higher_is_better
    return RuleResult(rule, metric, value, bound, value >= bound if higher else value <= bound)


def regression_rules(
    challenger: dict[str, float], champion: dict[str, float] | None, allowed: dict[str, float]
) -> list[RuleResult]:
    """Secondary metrics may get worse than the champion's by at most ``allowed[metric]``."""
    if champion is None:
        return []
    rules = []
    for metric, tolerance in allowed.items():
        higher = METRICS[metric].higher_is_better
        bound = champion[metric] - tolerance if higher else champion[metric] + tolerance
        rules.append(_at_least_as_good("max_regression", metric, challenger[metric], bound))
    return rules


def required_gain(min_improvement: float | str, champion_value: float) -> float:
    """``min_improvement`` as an absolute gain: a number is one already; ``"2%"`` is 2 % of
    the champion's value."""
    if isinstance(min_improvement, str):
        return abs(champion_value) * float(min_improvement.rstrip("%")) / 100
    return float(min_improvement)


def confidence_rule(bootstrap: dict[str, float], metric: str, min_improvement: float):
    """The improvement's bootstrap lower bound must clear ``min_improvement`` (absolute): a
    win inside the noise of the held-out rows does not flip the champion."""
    return RuleResult(
        rule=f"improvement_lower_bound_{round(bootstrap['confidence'] * 100)}",
        metric=metric,
        value=bootstrap["lower"],
        bound=min_improvement,
        passed=bootstrap["lower"] >= min_improvement,
    )


def slice_rules(
    column: str,
    groups: dict[str, dict[str, dict] | None],
    *,
    metric: str,
    max_gap: float | None,
    max_regression: float,
    min_rows: int,
) -> tuple[list[RuleResult], list[dict]]:
    """Rules for one slice column: the gap of the primary metric between its groups (when
    ``max_gap`` is set) and the worst group's change against the champion's same group."""
    mine, theirs = groups["challenger"] or {}, groups.get("champion")
    table = []
    for key, score in sorted(mine.items()):
        other = (theirs or {}).get(key, {}).get("value")
        judged = score["rows"] >= min_rows and score["value"] is not None
        table.append(
            {
                "column": column,
                "group": key,
                "rows": score["rows"],
                "challenger": score["value"],
                "champion": other,
                "judged": judged,
            }
        )
    judged = [row for row in table if row["judged"]]
    label = f"{metric} by {column}"
    rules = []
    if max_gap is not None and len(judged) >= 2:
        values = [row["challenger"] for row in judged]
        gap = max(values) - min(values)
        rules.append(RuleResult("slice_gap", label, gap, max_gap, gap <= max_gap))
    compared = [row for row in judged if row["champion"] is not None]
    if theirs is not None and compared:
        worst = min(better_by(metric, row["challenger"], row["champion"]) for row in compared)
        rules.append(
            RuleResult("slice_regression", label, worst, -max_regression, worst >= -max_regression)
        )
    return rules, table


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
            delta = better_by(metric, mine["value"], theirs)  # type: ignore[arg-type]  # judged
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


def _beats(
    rule: str, metric: str, challenger: dict[str, float], other: dict[str, float], margin
) -> RuleResult:
    """``challenger[metric]`` must beat ``other[metric]`` by ``margin`` (absolute or '1%')."""
    base = other[metric]
    gain = required_gain(margin, base)
    bound = base + gain if METRICS[metric].higher_is_better else base - gain
    return _at_least_as_good(rule, metric, challenger[metric], bound)


def _failure(rule: RuleResult) -> str:
    """A failed rule in words, for the decision's one-line reason."""
    if rule.rule == FIRST_RUN_RULE:
        return FIRST_RUN_REASON
    if rule.rule == BASELINE_RULE:
        return (
            f"no better than a trivial baseline: {rule.metric} {rule.value:.4f}, needed "
            f"{rule.bound:.4f} to beat the baseline (evaluation.baseline)"
        )
    return f"{rule.rule} on {rule.metric}: {rule.value:.4f} vs bound {rule.bound:.4f}"


def decide(
    challenger: dict[str, float],
    champion: dict[str, float] | None,
    *,
    primary_metric: str,
    thresholds: dict[str, float],
    min_improvement: float | str,
    extra_rules: Sequence[RuleResult] = (),
    first_run: str = "promote_if_thresholds",
    baseline: dict[str, float] | None = None,
    baseline_min_improvement: float | str = "1%",
) -> GateDecision:
    """Promote iff every threshold holds, the primary metric beats the ``baseline``'s (a
    trivial model's, when given) by ``baseline_min_improvement`` and the champion's by
    ``min_improvement`` (in the metric's better direction), and every extra rule (the
    per-partition rule of a partitioned model) passed. No champion: the rest decides.
    """
    rules: list[RuleResult] = []
    for metric, bound in thresholds.items():
        rule = "threshold_min" if METRICS[metric].higher_is_better else "threshold_max"
        rules.append(_at_least_as_good(rule, metric, challenger[metric], bound))
    if baseline is not None and baseline.get(primary_metric) is not None:
        rules.append(
            _beats(BASELINE_RULE, primary_metric, challenger, baseline, baseline_min_improvement)
        )
    if champion is not None and primary_metric in champion:
        rules.append(
            _beats("beats_champion", primary_metric, challenger, champion, min_improvement)
        )
    rules.extend(extra_rules)
    # A first model that passes everything else waits for a person instead of promoting.
    needs_approval = False
    if champion is None and first_run == "require_approval":
        needs_approval = all(rule.passed for rule in rules)
        rules.append(RuleResult(FIRST_RUN_RULE, primary_metric, 0.0, 1.0, False))
    promote = all(rule.passed for rule in rules)
    failed = [r for r in rules if not r.passed]
    if promote:
        reason = "all rules passed" if champion is not None else "first model; thresholds hold"
    else:
        reason = "; ".join(_failure(r) for r in failed)
    return {
        "promote": promote,
        "needs_approval": needs_approval,
        "reason": reason,
        "rules": [cast(GateRule, asdict(r)) for r in rules],
    }
