"""AutoReuser: the label-free default, the choice by score on the labelled rows, explicit names."""

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.exceptions import NotFittedError

from modelreuse.errors import BelowBaselineWarning, InvalidTaskDataError, UnknownNameError
from modelreuse.reuse.auto import AutoReuser, build_reuser, cv_splitter
from modelreuse.reuse.base import REUSERS, task_score


def test_without_enough_labels_the_label_free_default(regression_case):
    mixture, ranking, (X, y) = regression_case
    assert AutoReuser(mixture, ranking).fit(X[:100]).reuser_ == "job_selector"
    few = AutoReuser(mixture, ranking, min_labels=10).fit(X[:9], y[:9])
    assert few.reuser_ == "job_selector" and few.scores_ == {}
    single = AutoReuser(mixture[:1], ranking).fit(X[:100])
    assert single.reuser_ == "single" and [c.name for c in single.chosen_] == [ranking[0].name]
    no_specs = tuple(c.__class__(c.learnware_id, c.name, c.model, c.reason, c.weight) for c in mixture)
    assert AutoReuser(no_specs, ranking).fit(X[:100]).reuser_ == "averaging"


def test_with_labels_the_best_scoring_reuser_refitted(regression_case):
    mixture, ranking, (X, y) = regression_case
    auto = AutoReuser(mixture, ranking).fit(X[:60], y[:60])
    assert set(auto.scores_) == set(REUSERS.names())
    assert auto.scores_[auto.reuser_] == max(auto.scores_.values())
    # each score is what the reuser gets on the labelled rows (cross-validated when it learns from them)
    single = build_reuser("single", mixture, ranking, "regression").fit(X[:60])
    assert auto.scores_["single"] == pytest.approx(task_score("regression", y[:60], single.predict(X[:60])))
    folds = cv_splitter("regression", y[:60], 3, 0)
    preds = np.empty(60)
    for train, test in folds.split(X[:60]):
        preds[test] = build_reuser("ensemble_pruning", mixture, ranking).fit(X[train], y[train]).predict(X[test])
    assert auto.scores_["ensemble_pruning"] == pytest.approx(task_score("regression", y[:60], preds))
    np.testing.assert_allclose(auto.predict(X[60:]), auto.estimator_.predict(X[60:]))


def test_equal_scores_go_to_the_simpler_reuser(regression_case):
    mixture, ranking, (X, y) = regression_case
    auto = AutoReuser(mixture[:1], ranking[:1]).fit(X[:60], y[:60])  # one model: single == averaging
    assert auto.scores_["single"] == auto.scores_["averaging"] and auto.reuser_ == "single"


def test_explicit_reuser_and_unknown_names(classification_case):
    mixture, ranking, (X, y) = classification_case
    auto = AutoReuser(mixture, ranking, reuser="feature_augment").fit(X[:60], y[:60])
    assert auto.reuser_ == "feature_augment" and auto.scores_ == {}
    assert auto.predict_proba(X[60:70]).shape == (10, len(auto.classes_))
    with pytest.raises(UnknownNameError, match="averaging"):
        AutoReuser(mixture, ranking, reuser="bogus").fit(X[:60], y[:60])
    with pytest.raises(InvalidTaskDataError, match="candidates"):
        AutoReuser((), ()).fit(X[:60], y[:60])


def test_auto_reuser_is_an_estimator(classification_case):
    mixture, ranking, (X, y) = classification_case
    auto = AutoReuser(mixture, ranking, min_labels=len(y))  # the label-free path: the choice is tested above
    with pytest.raises(NotFittedError):
        auto.predict(X[:3])
    copy = clone(auto)
    assert copy.ranking[0].model is ranking[0].model  # the learnwares' models are shared, never refitted
    assert copy.fit(X[:60], y[:60]).score(X[60:], y[60:]) > 0.5


def test_own_rows_chosen_and_said_when_the_learnwares_do_worse(regression_case, beijing):
    """The user's label is the temperature, one of their own columns: the PM2.5 learnwares know
    nothing of it, a forest on the labelled rows learns it."""
    mixture, ranking, (X, _) = regression_case
    y = X[:, beijing["_feature_names"].index("TEMP")]
    with pytest.warns(BelowBaselineWarning, match="R\\^2 of always predicting the mean"):
        auto = AutoReuser(mixture, ranking).fit(X[:90], y[:90])
    assert auto.reuser_ == "own_rows" and auto.chosen_ == []
    assert auto.scores_["own_rows"] == max(auto.scores_.values())
    assert any(n.startswith("own_rows chosen") for n in auto.notes_)
    assert task_score("regression", y[90:], auto.predict(X[90:])) > 0.8


def test_a_reuser_that_cannot_be_fitted_is_skipped_with_the_reason(classification_case):
    """Two labelled rows cannot be split into three cross-validation folds: the label-using reusers
    are skipped (reason kept), the label-free ones are still scored."""
    mixture, ranking, (X, y) = classification_case
    auto = AutoReuser(mixture, ranking, min_labels=2).fit(X[:2], y[:2])
    skipped = {n.split()[2].rstrip(":") for n in auto.notes_ if n.startswith("skipped reuser")}
    assert skipped == {n for n in REUSERS.names() if REUSERS.metadata(n)["needs_labels"]}
    assert all("cannot be fitted" in n for n in auto.notes_ if n.startswith("skipped"))
    assert auto.reuser_ in auto.scores_ and not REUSERS.metadata(auto.reuser_)["needs_labels"]


def test_labels_are_matched_to_the_candidates_classes_as_strings(classification_case):
    from modelreuse.errors import SchemaError
    from modelreuse.reuse.auto import shared_label_space

    _, ranking, (_, y) = classification_case
    kept, skipped = shared_label_space(ranking, y.astype(str))  # "1" matches 1
    assert kept == list(ranking) and skipped == []
    with pytest.raises(SchemaError, match=r"\['no', 'yes'\] share no class .*\['0', '1', '2', '3'\].*map"):
        shared_label_space(ranking, np.where(y > 1, "yes", "no"))
