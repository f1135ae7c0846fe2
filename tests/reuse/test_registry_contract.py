"""One contract test over every registered reuser, on real station learnwares, for each task type
it supports: built from its pool by the same code the client uses, it is a scikit-learn
classifier or regressor that clones, refuses to predict before fit, records its input width,
predicts better than the trivial baseline on the user's unseen rows, and cross-validates with
``cross_val_score`` alone (stratified folds for classification)."""

import numpy as np
import pytest
from sklearn.base import clone, is_classifier, is_regressor
from sklearn.exceptions import NotFittedError
from sklearn.model_selection import StratifiedKFold, check_cv, cross_val_score

from modelreuse.reuse.auto import build_reuser
from modelreuse.reuse.base import REUSERS, TASK_TYPES

CASES = [(name, t) for name in REUSERS.names() for t in TASK_TYPES if t in REUSERS.metadata(name)["task_types"]]
LABELLED = 60


def trivial_score(task_type: str, y_train: np.ndarray, y_test: np.ndarray) -> float:
    """Accuracy of predicting the training majority class, or R^2 of predicting the training mean."""
    if task_type == "classification":
        values, counts = np.unique(y_train, return_counts=True)
        return float(np.mean(y_test == values[counts.argmax()]))
    return float(1 - np.mean((y_test - y_train.mean()) ** 2) / np.var(y_test))


@pytest.mark.parametrize(("name", "task_type"), CASES)
def test_reuser_contract(name, task_type, request):
    mixture, ranking, (X, y) = request.getfixturevalue(f"{task_type}_case")
    reuser = build_reuser(name, mixture, ranking)  # task type taken from the models
    assert (is_classifier if task_type == "classification" else is_regressor)(reuser)
    assert hasattr(reuser, "predict_proba") == (task_type == "classification")
    assert clone(reuser).get_params().keys() == reuser.get_params().keys()
    with pytest.raises(NotFittedError):
        reuser.predict(X[:5])

    labels = y[:LABELLED] if REUSERS.metadata(name)["needs_labels"] else None
    fitted = reuser.fit(X[:LABELLED], labels)
    assert fitted is reuser and reuser.n_features_in_ == X.shape[1]
    baseline = trivial_score(task_type, y[:LABELLED], y[LABELLED:])
    assert reuser.score(X[LABELLED:], y[LABELLED:]) > baseline + 0.1
    if task_type == "classification":
        proba = reuser.predict_proba(X[LABELLED:])
        assert proba.shape == (len(X) - LABELLED, len(reuser.classes_)) and np.allclose(proba.sum(1), 1)
        assert isinstance(check_cv(None, y, classifier=is_classifier(reuser)), StratifiedKFold)

    scores = cross_val_score(clone(reuser), X[:120], y[:120], error_score="raise")
    assert scores.mean() > trivial_score(task_type, y[:120], y[:120]) + 0.1, scores
    with pytest.raises(ValueError, match="features"):
        reuser.predict(X[:5, :-1])
