"""select_model: rank training.candidates by their cross-validation scores, refit the best
on the whole train split as the challenger, and log the leaderboard on its run."""

from __future__ import annotations

from typing import Any

from airflow.sdk.exceptions import AirflowException

from airflow_ml_provider.core.contracts import CandidateResult
from airflow_ml_provider.ml.training.candidates import SUCCEEDED, leaderboard
from airflow_ml_provider.operators.training import LocalTrainingOperator, TrainingJobOperator


class CandidateSelection(TrainingJobOperator):
    """What both runners' select_model share: choose the winner, then train it as
    train_model would (the runner's ``execute``), with the leaderboard in the job.

    :param results: train_candidates' results (templated, usually the mapped task's XComArg;
        a candidate whose task failed has none and counts as failed).
    :param candidate_names: every candidate's name, in the YAML's order.
    :param primary_metric: the metric candidates are ranked by (mean over the folds).
    :param min_candidates: how many must have succeeded; fewer fails the task.
    """

    template_fields: tuple[str, ...] = ("snapshot", "validation", "results")

    def __init__(
        self,
        *,
        results: list[CandidateResult] | Any,
        candidate_names: list[str],
        primary_metric: str,
        min_candidates: int = 1,
        **kwargs: Any,
    ) -> None:
        super().__init__(estimator=None, **kwargs)
        self.results = results
        self.candidate_names = list(candidate_names)
        self.primary_metric = primary_metric
        self.min_candidates = min_candidates

    def execute(self, context) -> dict[str, Any]:
        results = list(self.results or [])
        board = leaderboard(results, self.primary_metric, self.candidate_names)
        for row in board:
            score = row["cv"].get(self.primary_metric)
            said = (
                f"{score['mean']:.4f} ± {score['std']:.4f}"
                if score
                else f"failed: {row.get('error', '')}"
            )
            self.log.info(
                "%d. %-20s %-50s %s=%s (%.1f s)", row["rank"], row["name"], row["estimator"],
                self.primary_metric, said, row["fit_seconds"],
            )  # fmt: skip
        succeeded = [row for row in board if row["status"] == SUCCEEDED]
        if len(succeeded) < self.min_candidates:
            from airflow_ml_provider.hooks.mlflow import MlflowHook

            # No refit follows: the candidates left other DAG runs' abandoned runs to this.
            self.end_abandoned_runs(context, MlflowHook(self.mlflow_conn_id))
            failures = "; ".join(
                f"{row['name']}: {row.get('error', 'failed')}"
                for row in board
                if row["status"] != SUCCEEDED
            )
            raise AirflowException(
                f"{len(succeeded)} of {len(board)} candidates succeeded, "
                f"training.min_candidates is {self.min_candidates}: {failures}"
            )
        winner = succeeded[0]
        self.log.info(
            "winner: %s (%s); refitting it on the whole train split",
            winner["name"], winner["estimator"],
        )  # fmt: skip
        self.estimator = winner["estimator"]
        self.estimator_params = dict(winner["params"])
        self.search = None  # a candidate's search already chose its params
        self.refit = {
            "winner": winner["name"],
            "primary_metric": self.primary_metric,
            "leaderboard": board,
            "child_runs": [r["run_id"] for r in results if r["run_id"]],
        }
        return super().execute(context)


class SelectModelOperator(CandidateSelection, LocalTrainingOperator):
    """select_model on the local runner: the winner refitted in a subprocess on the worker.

    Takes CandidateSelection's and LocalTrainingOperator's parameters (the pipeline's
    training arguments; estimator, params and search come from the winner). Returns the
    training result (``run_id``, ``model_uri``, held-out ``metrics``...) plus ``candidates``
    (the leaderboard, best first) and ``winner``.
    """
