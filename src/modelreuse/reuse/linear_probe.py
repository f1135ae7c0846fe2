"""Linear probe: a frozen pretrained feature extractor and a logistic regression on its features.

The standard way to measure and use a pre-trained model's representation on a new task: Kornblith,
Shlens and Le, "Do Better ImageNet Models Transfer Better?", CVPR 2019 (section 3: L2-regularised
multinomial logistic regression on the penultimate layer's features of a frozen network); the
default adaptation of "PTM Selection and Adaptation" in the tutorial. Here the features are
standardised (zero mean, unit variance per column, fitted on the training rows), then
``LogisticRegression(C, max_iter)`` (lbfgs, L2 penalty) is fitted on them:

    p(y = c | x) = softmax_c(W standardise(f(x)) + b),   min  sum_i -log p(y_i | x_i) + ||W||^2 / (2C)

where ``f`` is the extractor (never updated). Classification only.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.utils.validation import check_is_fitted

from modelreuse.errors import InvalidTaskDataError
from modelreuse.reuse.base import EXTRACTOR_REUSERS, task_score


@EXTRACTOR_REUSERS.register("linear_probe", task_types=("classification",),
                            help="logistic regression on the frozen features of the chosen extractor")
class LinearProbeReuser(ClassifierMixin, BaseEstimator):
    """``LinearProbeReuser(extractor).fit(raw_X, y)``: a scikit-learn classifier on raw texts or images.

    Args:
        extractor: a loaded :class:`~modelreuse.models.extractors.FeatureExtractor` (e.g.
            ``Dock.load_model(id)`` of a feature-extraction learnware); never refitted or copied.
        C: inverse L2 regularisation strength of the logistic regression.
        max_iter: lbfgs iterations.
        reason: why this extractor was chosen (shown by ``explain()``).

    Fitted: ``head_`` (the standardiser + logistic regression pipeline), ``classes_``,
    ``n_features_in_`` (the extractor's feature width), ``reuser_`` (``"linear_probe"``) and
    ``notes_`` (one line saying what was fitted).
    """

    def __init__(self, extractor: Any = None, C: float = 1.0, max_iter: int = 1000, reason: str = ""):
        self.extractor = extractor
        self.C = C
        self.max_iter = max_iter
        self.reason = reason

    def fit(self, X, y):
        """Extract features of the raw rows ``X`` (texts or images) and fit the probe on them."""
        from sklearn.linear_model import LogisticRegression
        from sklearn.pipeline import make_pipeline
        from sklearn.preprocessing import StandardScaler

        if self.extractor is None:
            raise InvalidTaskDataError("a linear probe needs extractor=<a loaded feature extractor> "
                                       "(Dock.load_model of a feature_extraction learnware)")
        y = check_probe_data([self.extractor], X, y, "a linear probe")
        features = self.extractor.features(X)
        self.head_ = make_pipeline(StandardScaler(), LogisticRegression(C=self.C, max_iter=self.max_iter)).fit(features, y)
        self.classes_ = self.head_.classes_
        self.n_features_in_ = features.shape[1]
        self.task_type_ = "classification"
        self.reuser_ = "linear_probe"
        self.notes_ = [f"probed: logistic regression (C={self.C}) on the {features.shape[1]}-d features of "
                       f"{self.extractor.name!r} from your {len(y)} labelled rows (Kornblith et al. 2019)"]
        return self

    @property
    def chosen_(self) -> list:
        """The extractor used, as the one candidate (for :meth:`ReusedModel.explain`)."""
        check_is_fitted(self, "head_")
        return extractor_candidates([self.extractor], self.reason)

    def predict_proba(self, X) -> np.ndarray:
        """Class probabilities, columns in the order of ``classes_``."""
        check_is_fitted(self, "head_")
        return self.head_.predict_proba(self.extractor.features(X))

    def predict(self, X) -> np.ndarray:
        check_is_fitted(self, "head_")
        return self.head_.predict(self.extractor.features(X))

    def score(self, X, y, sample_weight=None) -> float:
        """Accuracy of ``predict(X)`` against ``y`` (labels compared as strings)."""
        return task_score("classification", y, self.predict(X), sample_weight)


class TopKProbeBase(ClassifierMixin, BaseEstimator):
    """What the reusers of several top-ranked extractors share (:mod:`~modelreuse.reuse.concat_probe`,
    :mod:`~modelreuse.reuse.probe_ensemble`): their parameters, ``chosen_`` and ``score``.
    ``_fitted`` names the attribute whose presence means fitted."""

    _fitted = ""

    def __init__(self, extractors: Any = (), C: float = 1.0, max_iter: int = 1000, reason: str = ""):
        self.extractors = extractors
        self.C = C
        self.max_iter = max_iter
        self.reason = reason

    @property
    def chosen_(self) -> list:
        """The extractors used, best first (for :meth:`ReusedModel.explain`)."""
        check_is_fitted(self, self._fitted)
        return extractor_candidates(self.extractors, self.reason)

    def score(self, X, y, sample_weight=None) -> float:
        """Accuracy of ``predict(X)`` against ``y`` (labels compared as strings)."""
        return task_score("classification", y, self.predict(X), sample_weight)


def check_probe_data(extractors, X, y, what: str) -> np.ndarray:
    """``y`` as an array after checking that ``extractors`` is a non-empty sequence and that ``y``
    holds one label per row of ``X`` and at least 2 classes (typed errors saying what to do)."""
    if isinstance(extractors, (str, bytes)) or not hasattr(extractors, "__len__") or len(extractors) == 0 \
            or any(not hasattr(e, "features") for e in extractors):
        raise InvalidTaskDataError(f"{what} needs extractors=<loaded feature extractors> (Dock.load_model of "
                                   "feature_extraction learnwares), one at least")
    y = np.asarray(y)
    if y.ndim != 1 or len(y) != len(X):
        raise InvalidTaskDataError(f"y must be 1-D with one label per row: {len(X)} rows, y of shape {y.shape}")
    if len(np.unique(y)) < 2:
        raise InvalidTaskDataError(f"{what} needs labelled rows of at least 2 classes; your labels have "
                                   f"one ({y[0]!r}): add rows of another class")
    return y


def extractor_candidates(extractors, reason: str) -> list:
    """The extractors as :class:`~modelreuse.reuse.auto.Candidate` objects, in order (the first
    carries ``reason``; the others say their rank)."""
    from modelreuse.reuse.auto import Candidate

    return [Candidate(e.learnware_id or e.name, e.name, e, reason=reason if i == 0 else f"{reason} (rank {i + 1})")
            for i, e in enumerate(extractors)]
