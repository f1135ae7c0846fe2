"""An ensemble of linear probes, one per top-k extractor, averaging their class probabilities.

Rank a model hub, then reuse its top-K models together (You, Liu, Wang, Long and Jordan, "Ranking
and Tuning Pre-trained Models: A New Paradigm for Exploiting Model Hubs", JMLR 23 (2022)): here
each of the K frozen extractors gets its own linear probe (Kornblith, Shlens and Le, "Do Better
ImageNet Models Transfer Better?", CVPR 2019; :mod:`modelreuse.reuse.linear_probe`), and the
probes are combined as a deep ensemble is, by the uniform average of their predicted
probabilities (Lakshminarayanan, Pritzel and Blundell, "Simple and Scalable Predictive Uncertainty
Estimation using Deep Ensembles", NeurIPS 2017, eq. for the mixture ``p(y|x) = 1/M sum_m p_m(y|x)``):

    p(y = c | x) = 1/K sum_j softmax_c(W_j standardise_j(f_j(x)) + b_j)

Unlike :mod:`modelreuse.reuse.concat_probe` no probe sees more than one extractor's features, so
each is as well-posed as the single probe, and their errors average out where the backbones
disagree. Classification only.
"""

from __future__ import annotations

import numpy as np
from sklearn.utils.validation import check_is_fitted

from modelreuse.reuse.base import EXTRACTOR_REUSERS
from modelreuse.reuse.linear_probe import TopKProbeBase, check_probe_data


@EXTRACTOR_REUSERS.register("probe_ensemble", task_types=("classification",),
                            help="one logistic regression per top-k extractor, their probabilities averaged")
class ProbeEnsembleReuser(TopKProbeBase):
    """``ProbeEnsembleReuser(extractors).fit(raw_X, y)``: a scikit-learn classifier on raw texts or images.

    Args:
        extractors: loaded :class:`~modelreuse.models.extractors.FeatureExtractor` objects of one
            modality, best first (e.g. the top-k of a transferability ranking); never refitted or copied.
        C: inverse L2 regularisation strength of every probe's logistic regression.
        max_iter: lbfgs iterations.
        reason: why these extractors were chosen (shown by ``explain()``).

    Fitted: ``heads_`` (one standardiser + logistic regression pipeline per extractor, in order),
    ``classes_``, ``n_features_in_`` (the summed widths), ``reuser_`` (``"probe_ensemble"``) and ``notes_``.
    """

    _fitted = "heads_"

    def fit(self, X, y):
        """Extract each extractor's features of the raw rows ``X`` and fit one probe on each."""
        from sklearn.linear_model import LogisticRegression
        from sklearn.pipeline import make_pipeline
        from sklearn.preprocessing import StandardScaler

        y = check_probe_data(self.extractors, X, y, "an ensemble of probes")
        self.heads_ = []
        widths = []
        for extractor in self.extractors:
            features = extractor.features(X)
            widths.append(features.shape[1])
            self.heads_.append(make_pipeline(StandardScaler(), LogisticRegression(C=self.C, max_iter=self.max_iter))
                               .fit(features, y))
        self.classes_ = self.heads_[0].classes_
        self.n_features_in_ = int(sum(widths))
        self.task_type_ = "classification"
        self.reuser_ = "probe_ensemble"
        self.notes_ = [f"probed: {len(self.heads_)} logistic regressions (C={self.C}), one on each extractor's "
                       f"features ({', '.join(f'{e.name!r}: {w}-d' for e, w in zip(self.extractors, widths))}), "
                       f"their probabilities averaged, from your {len(y)} labelled rows "
                       "(top-k reuse as in You et al. 2022, averaged as a deep ensemble)"]
        return self

    def predict_proba(self, X) -> np.ndarray:
        """The mean of the probes' class probabilities, columns in the order of ``classes_``."""
        check_is_fitted(self, "heads_")
        return np.mean([head.predict_proba(e.features(X)) for e, head in zip(self.extractors, self.heads_)], axis=0)

    def predict(self, X) -> np.ndarray:
        return self.classes_[np.argmax(self.predict_proba(X), axis=1)]
