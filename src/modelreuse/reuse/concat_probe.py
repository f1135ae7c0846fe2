"""Concatenated features of the top-k extractors and one linear probe on them.

"Ranking and tuning" a model hub: You, Liu, Wang, Long and Jordan, "Ranking and Tuning Pre-trained
Models: A New Paradigm for Exploiting Model Hubs", JMLR 23 (2022), rank the hub's models by LogME,
then reuse the top-K of them together rather than the best alone. Their tuning of the top-K is
B-Tuning (the target model is fine-tuned to also predict the top-K models' features); this reuser
follows the same rank-then-combine paradigm with the cheapest combination that keeps every
backbone frozen: the top-K feature vectors are concatenated and one linear probe (the L2-regularised
multinomial logistic regression of Kornblith, Shlens and Le, "Do Better ImageNet Models Transfer
Better?", CVPR 2019; :mod:`modelreuse.reuse.linear_probe`) is fitted on the concatenation:

    z(x) = [ w_1 standardise(f_1(x)), ..., w_K standardise(f_K(x)) ],   w_j = sqrt(D / (K d_j))
    p(y = c | x) = softmax_c(W z(x) + b),   min  sum_i -log p(y_i | x_i) + ||W||^2 / (2C)

where ``f_j`` is the j-th extractor (width ``d_j``, never updated) and ``D = sum_j d_j``. The block
weights ``w_j`` give every extractor the same total variance ``D / K``, so a 768-d backbone does not
drown a 16-d one under the shared L2 penalty, while the total variance stays ``D`` as for one
standardised probe. Classification only.
"""

from __future__ import annotations

import numpy as np
from sklearn.utils.validation import check_is_fitted

from modelreuse.reuse.base import EXTRACTOR_REUSERS
from modelreuse.reuse.linear_probe import TopKProbeBase, check_probe_data


@EXTRACTOR_REUSERS.register("concat_probe", task_types=("classification",),
                            help="one logistic regression on the concatenated frozen features of the top-k extractors")
class ConcatProbeReuser(TopKProbeBase):
    """``ConcatProbeReuser(extractors).fit(raw_X, y)``: a scikit-learn classifier on raw texts or images.

    Args:
        extractors: loaded :class:`~modelreuse.models.extractors.FeatureExtractor` objects of one
            modality, best first (e.g. the top-k of a transferability ranking); never refitted or copied.
        C: inverse L2 regularisation strength of the logistic regression.
        max_iter: lbfgs iterations.
        reason: why these extractors were chosen (shown by ``explain()``).

    Fitted: ``scaler_`` (standardiser of the concatenation), ``weights_`` (the block weight of each
    column), ``head_`` (the logistic regression), ``widths_`` (each extractor's width), ``classes_``,
    ``n_features_in_``, ``reuser_`` (``"concat_probe"``) and ``notes_``.
    """

    _fitted = "head_"

    def fit(self, X, y):
        """Extract each extractor's features of the raw rows ``X`` and fit the probe on their concatenation."""
        from sklearn.linear_model import LogisticRegression
        from sklearn.preprocessing import StandardScaler

        y = check_probe_data(self.extractors, X, y, "a concatenated probe")
        blocks = [e.features(X) for e in self.extractors]
        self.widths_ = np.array([b.shape[1] for b in blocks])
        total = int(self.widths_.sum())
        self.weights_ = np.repeat(np.sqrt(total / (len(blocks) * self.widths_)), self.widths_)
        features = np.hstack(blocks)
        self.scaler_ = StandardScaler().fit(features)
        self.head_ = LogisticRegression(C=self.C, max_iter=self.max_iter).fit(self._scaled(features), y)
        self.classes_ = self.head_.classes_
        self.n_features_in_ = total
        self.task_type_ = "classification"
        self.reuser_ = "concat_probe"
        self.notes_ = [f"probed: logistic regression (C={self.C}) on the concatenated {total}-d features of "
                       f"{len(blocks)} extractors ({' + '.join(map(str, self.widths_))}: "
                       f"{', '.join(repr(e.name) for e in self.extractors)}), each block standardised and weighted "
                       f"to equal variance, from your {len(y)} labelled rows (top-k reuse as in You et al. 2022)"]
        return self

    def _scaled(self, features: np.ndarray) -> np.ndarray:
        return self.scaler_.transform(features) * self.weights_

    def _features(self, X) -> np.ndarray:
        check_is_fitted(self, "head_")
        return self._scaled(np.hstack([e.features(X) for e in self.extractors]))

    def predict_proba(self, X) -> np.ndarray:
        """Class probabilities, columns in the order of ``classes_``."""
        return self.head_.predict_proba(self._features(X))

    def predict(self, X) -> np.ndarray:
        return self.head_.predict(self._features(X))
