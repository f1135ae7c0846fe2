"""Per-task lookup: every query of a task goes to the model with the best mean training score on
that task (the "per-dataset best single model" baseline of RouterDC / RouterBench)."""

from __future__ import annotations

import numpy as np

from modelreuse.routing.base import ScoreModel, as_tasks, check_training_data


class TaskLookupRouter(ScoreModel):
    """Predicted score of model m on a query of task t = m's mean training score on t (NaN-aware);
    a task not seen in training gets the models' overall means."""

    name = "lookup"

    def fit(self, X, S, tasks=None) -> TaskLookupRouter:
        X, S, tasks = check_training_data(X, S, tasks)
        self.tasks_ = np.asarray(sorted(set(tasks)), dtype=str)
        rows = [S[tasks == t] for t in self.tasks_]
        overall = np.nanmean(S, axis=0)
        self.task_means_ = np.vstack([np.where(np.isnan(m := np.nanmean(r, axis=0)), overall, m) if len(r) else overall
                                      for r in rows])
        self.overall_ = overall
        return self

    def predict(self, X, tasks=None) -> np.ndarray:
        tasks = as_tasks(tasks, len(X))
        index = {t: i for i, t in enumerate(self.tasks_)}
        return np.vstack([self.task_means_[index[t]] if t in index else self.overall_ for t in tasks])

    def get_state(self) -> dict:
        return {"tasks": self.tasks_, "task_means": self.task_means_, "overall": self.overall_}

    def set_state(self, state: dict) -> None:
        self.tasks_, self.task_means_, self.overall_ = state["tasks"], state["task_means"], state["overall"]
