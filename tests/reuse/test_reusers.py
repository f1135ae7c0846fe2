"""Each reuser's own behaviour on real station learnwares (the shared contract is in
test_registry_contract.py)."""

import numpy as np
import pytest
from sklearn.metrics import r2_score

from modelreuse.errors import InvalidTaskDataError
from modelreuse.reuse import AveragingReuser, EnsemblePruningReuser, FeatureAugmentReuser, JobSelectorReuser
from modelreuse.reuse.auto import build_reuser
from modelreuse.reuse.base import REUSERS
from tests.conftest import user_half

SITES = ["Huairou", "Wanliu"]


@pytest.fixture(scope="module")
def parts(site_learnwares, beijing):
    models = [site_learnwares[s].load_model() for s in SITES]
    specs = [site_learnwares[s].rkme for s in SITES]
    users = {s: user_half(beijing, s) for s in SITES}
    return models, specs, users


def test_job_selector_routes_rows_to_their_own_site(parts):
    models, specs, users = parts
    X = np.vstack([users["Huairou"][0], users["Wanliu"][0]])
    y = np.concatenate([users["Huairou"][1], users["Wanliu"][1]])
    js = JobSelectorReuser(models, "regression", specs=specs).fit(X)
    for i, site in enumerate(SITES):
        assert np.mean(js.assign(users[site][0]) == i) > 0.6
    assert r2_score(y, js.predict(X)) > 0.7


def test_averaging_is_the_weighted_mean(parts):
    models, _, users = parts
    X = users["Wanliu"][0][:50]
    avg = AveragingReuser(models, weights=[0.25, 0.75]).fit(X)
    expected = 0.25 * models[0].predict(X) + 0.75 * models[1].predict(X)
    np.testing.assert_allclose(avg.predict(X), expected)


def test_pruning_and_feature_augment_learn_from_labels(parts):
    models, _, users = parts
    X, y = users["Wanliu"]
    pr = EnsemblePruningReuser(models, "regression").fit(X[:60], y[:60])
    assert pr.weights_.sum() == pytest.approx(1) and pr.weights_[1] > 0
    fa = FeatureAugmentReuser(models, "regression").fit(X[:60], y[:60])
    assert r2_score(y[60:], fa.predict(X[60:])) > 0.6
    with pytest.raises(InvalidTaskDataError, match="labelled rows"):
        EnsemblePruningReuser(models, "regression").fit(X, None)


def test_job_selector_needs_one_spec_per_model(parts):
    models, specs, users = parts
    with pytest.raises(InvalidTaskDataError, match="one RKME spec per model"):
        JobSelectorReuser(models, specs=specs[:1]).fit(users["Wanliu"][0])


def test_task_type_comes_from_the_models_or_is_refused(parts):
    models, _, users = parts
    X = users["Wanliu"][0][:20]
    assert AveragingReuser(models).fit(X).task_type_ == "regression"
    with pytest.raises(InvalidTaskDataError, match="task_type"):
        AveragingReuser(models, "ranking").fit(X)
    with pytest.raises(InvalidTaskDataError, match="at least one model"):
        AveragingReuser([]).fit(X)


def test_classification_soft_vote_aligns_class_sets(beijing):
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    from modelreuse.models import ModelAdapter
    from modelreuse.models.tabular import impute_means

    X = impute_means(beijing["Wanliu"]["X"])
    level = np.digitize(beijing["Wanliu"]["y"], [35, 75, 150])  # China AQI PM2.5 bands

    def clf():
        return make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000))

    a = ModelAdapter(clf().fit(X[level < 3], level[level < 3]), "classification")
    b = ModelAdapter(clf().fit(X[level > 0], level[level > 0]), "classification")
    avg = AveragingReuser([a, b]).fit(X[:10])
    proba = avg.predict_proba(X[:10])
    assert list(avg.classes_) == [0, 1, 2, 3] and np.allclose(proba.sum(1), 1)


@pytest.mark.parametrize("name", REUSERS.names())
def test_rows_with_missing_cells(name, regression_case):
    """NaN cells go to the learnwares' models as they are (their adapters fill them); reusers that
    use the rows themselves fill them (job selector, own rows, feature augmentation's features)."""
    mixture, ranking, (X, y) = regression_case
    X = X.copy()
    X[::2, :3] = np.nan
    reuser = build_reuser(name, mixture, ranking, "regression").fit(X[:60], y[:60])
    assert np.isfinite(reuser.predict(X[60:])).all()
    assert r2_score(y[60:], reuser.predict(X[60:])) > 0.3


def test_feature_augment_with_one_class(classification_case):
    """A skewed user's fold may hold one class only: the head then predicts it, without crashing."""
    mixture, ranking, (X, y) = classification_case
    only = y == np.bincount(y).argmax()
    fa = FeatureAugmentReuser([c.model for c in ranking], include_features=True).fit(X[only][:40], y[only][:40])
    assert set(fa.predict(X[:20])) == {y[only][0]}
    assert np.allclose(fa.predict_proba(X[:20]).sum(axis=1), 1)
