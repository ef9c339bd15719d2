"""approve_promotion: a person approves or rejects what the gate wants to promote.

Airflow 3's human-in-the-loop ApprovalOperator: the task waits (state awaiting input) until
someone answers in the Airflow UI (Required Actions) or through the HITL REST API.
"""

from __future__ import annotations

from typing import Any

from airflow.providers.standard.operators.hitl import ApprovalOperator, HITLOperator

from airflow_ml_provider.core.contracts import Approval, GateDecision


class PromotionApprovalOperator(ApprovalOperator):
    """Ask a person before a promotion the gate recommends; do not ask otherwise.

    Also asks for a first model that passed the gate under ``first_run: require_approval``
    (``decision["needs_approval"]``); with ``every_promotion=False`` it asks only then.
    When nobody needs to be asked the result is ``{"approved": None, "asked": False}``.
    Otherwise the task waits for "Approve" or "Reject" and returns
    ``{"approved": bool, "asked": True, "by": user}``. A request nobody answers within
    ``response_timeout`` is rejected by the scheduler: ``{"approved": False, "timed_out": True}``.
    A rejection does not skip anything: register_model still registers the challenger, it
    just does not promote it (the champion stays).

    Takes ApprovalOperator's parameters (``response_timeout``, ``assignees``, ...), and:

    :param decision: evaluate_model's result (a GateDecision; templated, usually an XComArg).
    :param model_name: the registered model (named in the request's subject).
    :param every_promotion: ask before every promotion (``deployment.approval: manual``);
        False asks only for a first model under ``first_run: require_approval``.
    """

    template_fields = (*ApprovalOperator.template_fields, "decision")

    def __init__(
        self,
        *,
        decision: GateDecision | Any,
        model_name: str,
        every_promotion: bool = True,
        **kwargs: Any,
    ) -> None:
        kwargs.setdefault("subject", f"Promote a new champion of {model_name}?")
        # Unanswered until response_timeout: the scheduler answers "Reject" (the champion stays).
        kwargs.setdefault("defaults", [self.REJECT])
        super().__init__(**kwargs)
        self.decision = decision
        self.model_name = model_name
        self.every_promotion = every_promotion

    def execute(self, context) -> Approval:
        wanted = self.every_promotion and self.decision.get("promote")
        if not (wanted or self.decision.get("needs_approval")):
            self.log.info("the gate did not recommend promotion; nobody is asked")
            return {"approved": None, "asked": False}
        self.body = _decision_markdown(self.model_name, self.decision)
        return super().execute(context)

    def execute_complete(self, context, event: dict[str, Any]) -> Approval:
        # HITLOperator's, not ApprovalOperator's: a rejection must not skip registration.
        answer = HITLOperator.execute_complete(self, context, event)
        user = answer["responded_by_user"] or {}
        approved = answer["chosen_options"] == [self.APPROVE]
        if event.get("timedout"):
            self.log.info("nobody answered within %s: rejected", self.response_timeout)
            return {"approved": False, "asked": True, "by": None, "timed_out": True}
        by = user.get("name") or user.get("id") or "unknown"
        self.log.info("%s by %s", "approved" if approved else "rejected", by)
        return {"approved": approved, "asked": True, "by": by}


def _decision_markdown(model_name: str, decision: GateDecision) -> str:
    """The gate's rules as a Markdown table for the approval page."""
    rows = "\n".join(
        f"| {r['rule']} | {r['metric']} | {r['value']:.4f} | {r['bound']:.4f} | "
        f"{'pass' if r['passed'] else 'FAIL'} |"
        for r in decision.get("rules", [])
    )
    champion = decision.get("champion_version")
    return (
        f"The gate recommends a new champion of **{model_name}** "
        f"(current champion: {f'version {champion}' if champion else 'none'}).\n\n"
        "| rule | metric | value | bound | |\n|---|---|---|---|---|\n" + rows
    )
