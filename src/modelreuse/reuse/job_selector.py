"""Job selector: send each sample to the learnware whose distribution it most likely came from.

Paper: Wu et al., TKDE 2023 (RKME reuse by job selection); the ``learnware`` package's
``JobSelectorReuser`` trains a classifier on herded samples of the RKMEs. We use the RKMEs
directly: sample ``x`` goes to ``argmax_i w_i Phi_i(x)`` where
``Phi_i(x) = sum_j beta_ij k(z_ij, x)`` is learnware ``i``'s RKME evaluated at ``x`` (a kernel
density estimate of its data) and ``w_i`` the optional mixture weight, all in the pooled frame
of the chosen specs (so it is unit invariant like search). Needs no labels.

Missing cells (NaN) of a row are filled, for routing only, with the column means of the rows
``fit`` saw (a column with no value there: 0): the rule the task's own RKME is built with
(:func:`modelreuse.models.tabular.impute_means`). The chosen learnware's model still gets the row
with its missing cells, and fills them its own way.
"""

from __future__ import annotations

import numpy as np

from modelreuse.errors import InvalidTaskDataError
from modelreuse.reuse.base import REUSERS, TASK_TYPES, ReuserBase
from modelreuse.specs.rkme_index import RKMEIndex


@REUSERS.register("job_selector", task_types=TASK_TYPES, needs_labels=False, pool="mixture", preference=1,
                   needs_specs=True)
class JobSelectorReuser(ReuserBase):
    """Args: ``specs`` (one RKMESpec per model), optional ``weights`` (mixture weights)."""

    def __init__(self, models=None, task_type: str | None = None, specs=None, weights=None):
        super().__init__(models, task_type)
        self.specs = specs
        self.weights = weights

    def _fit(self, X, y) -> None:
        if self.specs is None or len(self.specs) != len(self.models):
            raise InvalidTaskDataError("JobSelectorReuser needs one RKME spec per model: pass specs=[...] "
                                       "(Learnware.rkme of each model's learnware)")
        widths = {spec.n_features for spec in self.specs}
        if widths != {X.shape[1]}:
            raise InvalidTaskDataError(f"the RKME specs describe rows of {sorted(widths)} features but X has "
                                       f"{X.shape[1]}; pass rows in the learnwares' feature space")
        self.index_ = RKMEIndex.build([str(i) for i in range(len(self.specs))], list(self.specs))
        from sklearn.impute import SimpleImputer

        self.fill_ = SimpleImputer(keep_empty_features=True).fit(X).statistics_

    def assign(self, X) -> np.ndarray:
        """Index of the learnware each row is sent to."""
        return self._assign(self._checked(X))

    def _assign(self, X: np.ndarray) -> np.ndarray:
        X = np.where(np.isnan(X), self.fill_[None, :], X)
        dens = self.index_.kernel_means_at(X / self.index_.scale, np.arange(len(self.specs)))
        if self.weights is not None:
            dens = dens * np.asarray(self.weights, np.float64)[None, :]
        return dens.argmax(axis=1)

    def _combine(self, X: np.ndarray) -> np.ndarray:
        choice = self._assign(X)
        width = len(self.classes_) if self.task_type_ == "classification" else 1
        out = np.zeros((len(X), width))
        for i in np.unique(choice):
            rows = choice == i
            out[rows] = self._outputs(X[rows], [self.models[i]])[0]
        return out
