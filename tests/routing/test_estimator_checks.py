"""scikit-learn's estimator checks on every registered score model and on ``Router``.

A score model fits ``(X, S)``: query embeddings and a score matrix ``S (n_queries, n_models)``
in [0, 1] (tags: multi-output target, never 1-D), so the checks reshape their ``y`` to one
column. Most checks draw ``y`` as integer labels or unbounded regression values, which are not
scores; fit refuses them, and those checks are listed in :data:`OUT_OF_RANGE_TARGETS` (each must
still fail with the stated error; :mod:`tests.sklearn_checks`).
:func:`test_properties_those_checks_test_hold_on_valid_scores` then tests what they test
(fit returns self, leaves its inputs alone, takes float32, int and read-only arrays; predict is
row-wise) with scores in [0, 1].

``Router`` fits on routing records, not an array (its tags say so), so scikit-learn runs only
its data-free API checks on it. Tiny constructor settings keep the many fits fast.
"""

from __future__ import annotations

import pickle

import numpy as np
import pytest
from sklearn.utils.estimator_checks import parametrize_with_checks

from modelreuse.errors import RoutingDataError
from modelreuse.routing.base import ROUTERS, ScoreModel
from modelreuse.routing.router import Router
from tests.sklearn_checks import (
    DATA_FREE_CHECKS,
    ExpectedFailure,
    estimator_check_params,
    run_check,
    run_data_free_check,
)

TINY = {"mlp": {"hidden": 8, "epochs": 2}, "mf": {"dim": 4, "epochs": 2}, "knn": {"k": 3},
        "capability": {"n_clusters": 2, "items_per_cluster": 2, "hidden": 4, "steps": 3}}
"""Settings for the checks' many fits; a router not listed runs with its defaults."""

OUT_OF_RANGE = ExpectedFailure(
    "the check's targets are integer labels or unbounded regression values, not scores in [0, 1]; fit refuses them "
    "(RoutingDataError, or the check's assertion about that error). What it tests is tested with valid scores in "
    "test_properties_those_checks_test_hold_on_valid_scores", (RoutingDataError, AssertionError))
OUT_OF_RANGE_TARGETS = (
    "check_dict_unchanged", "check_dont_overwrite_parameters", "check_dtype_object", "check_estimators_dtypes",
    "check_estimators_fit_returns_self", "check_estimators_overwrite_params", "check_f_contiguous_array_estimator",
    "check_fit2d_1feature", "check_fit2d_predict1d", "check_fit_score_takes_y", "check_methods_sample_order_invariance",
    "check_methods_subset_invariance", "check_n_features_in_after_fitting", "check_positive_only_tag_during_fit",
    "check_readonly_memmap_input")
NOT_PICKLABLE = ExpectedFailure(
    "the torch module's class is built inside a factory so that torch loads only on fit; the project never pickles "
    "a router (save_score_model writes router.json + router.npz)", (AttributeError, pickle.PicklingError))
TORCH_FACTORY_ROUTERS = ("capability", "mf")


def _score_models() -> list[tuple[str, ScoreModel]]:
    return [(name, ROUTERS.get(name)(**TINY.get(name, {}))) for name in ROUTERS.names()]


def expected_failures(estimator: ScoreModel) -> dict[str, ExpectedFailure]:
    """Each check expected to fail for ``estimator``, with the reason."""
    failures = dict.fromkeys(OUT_OF_RANGE_TARGETS, OUT_OF_RANGE)
    if any(isinstance(estimator, ROUTERS.get(name)) for name in TORCH_FACTORY_ROUTERS):
        failures["check_estimators_pickle"] = NOT_PICKLABLE
    return failures


@pytest.mark.parametrize(("estimator", "check", "expected"),
                         list(estimator_check_params(_score_models(), expected_failures)))
def test_score_model_checks(estimator, check, expected):
    run_check(estimator, check, expected)


@parametrize_with_checks([Router(ROUTERS.get("knn")(k=3))])
def test_router_is_cloneable(estimator, check):
    check(estimator)


@pytest.mark.parametrize("check", DATA_FREE_CHECKS, ids=lambda c: c.__name__)
@pytest.mark.parametrize("estimator", [Router(), Router(ROUTERS.get("knn")(k=3), cache="cache", max_chars=200)],
                         ids=["by-name", "configured"])
def test_router_data_free_checks(estimator, check):
    run_data_free_check(check, estimator)


@pytest.mark.parametrize("estimator", [m for _, m in _score_models()], ids=lambda e: type(e).__name__)
def test_properties_those_checks_test_hold_on_valid_scores(estimator):
    rng = np.random.default_rng(0)
    X = rng.normal(size=(40, 3))
    S = np.where(rng.random((40, 4)) < 0.2, np.nan, rng.random((40, 4)))
    tasks = rng.choice(["a", "b"], 40).astype(object)
    inputs = [X.copy(), S.copy(), tasks.copy()]
    params = estimator.get_params()

    assert estimator.fit(X, S, tasks) is estimator
    for before, after in zip(inputs, (X, S, tasks)):
        np.testing.assert_array_equal(before, after)
    assert estimator.get_params() == params and estimator.n_features_in_ == 3
    predicted = estimator.predict(X, tasks)
    assert predicted.shape == (40, 4) and ((predicted >= 0) & (predicted <= 1)).all()

    order = rng.permutation(40)
    np.testing.assert_allclose(estimator.predict(X[order], tasks[order]), predicted[order], atol=1e-6)
    np.testing.assert_allclose(estimator.predict(X[:7], tasks[:7]), predicted[:7], atol=1e-6)
    readonly = X.copy()
    readonly.flags.writeable = False
    np.testing.assert_allclose(estimator.predict(np.asfortranarray(X), tasks), predicted, atol=1e-6)
    for X_other in (readonly, X.astype(np.float32), (X * 10).astype(np.int64)):
        assert estimator.fit(X_other, S, tasks).predict(X_other, tasks).shape == (40, 4)
    with pytest.raises(RoutingDataError, match="has 2 features, but .* expecting 3"):
        estimator.predict(X[:, :2], tasks)


@pytest.mark.parametrize(("S", "message"), [
    (None, "requires y to be passed"),
    (np.full((5, 2), 2.0), r"in \[0, 1\]"),
    (np.array([[0.5, np.nan]] * 5), r"model\(s\) \[1\] have no training score"),
    (np.zeros((5, 0)), "n_models >= 1"),
    (np.zeros(5), r"shape \(n_queries=5"),
    ([["a", "b"]] * 5, "numbers in"),
])
def test_bad_scores_are_refused_with_a_typed_error(S, message):
    with pytest.raises(RoutingDataError, match=message):
        ROUTERS.get("knn")().fit(np.zeros((5, 3)), S)
