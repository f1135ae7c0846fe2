"""Per-task lookup: every query of a task goes to the model with the best mean training score on
that task (the "per-dataset best single model" baseline of RouterDC / RouterBench)."""

from __future__ import annotations

import numpy as np

from modelreuse.routing.base import ROUTERS, ScoreModel


@ROUTERS.register("lookup")
class TaskLookupRouter(ScoreModel):
    """Predicted score of model m on a query of task t = m's mean training score on t (NaN-aware);
    a task not seen in training gets the models' overall means. The embeddings are not used."""

    def _fit(self, X, S, tasks) -> None:
        self.tasks_ = np.asarray(sorted(set(tasks)), dtype=str)
        overall = np.nanmean(S, axis=0)
        means = [np.nanmean(S[tasks == t], axis=0) for t in self.tasks_]
        self.task_means_ = np.vstack([np.where(np.isnan(m), overall, m) for m in means])
        self.overall_ = overall

    def _predict(self, X, tasks) -> np.ndarray:
        index = {t: i for i, t in enumerate(self.tasks_)}
        return np.vstack([self.task_means_[index[t]] if t in index else self.overall_ for t in tasks])

    def _get_state(self) -> dict:
        return {"tasks": self.tasks_, "task_means": self.task_means_, "overall": self.overall_}

    def _set_state(self, state: dict) -> None:
        self.tasks_, self.task_means_, self.overall_ = state["tasks"], state["task_means"], state["overall"]
