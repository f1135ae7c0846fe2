"""Model-SAT-style capability routing on real metabench item responses: the aptitude test, the
capability instruction text, onboarding a model without retraining, and the onboarding benchmark."""

import numpy as np
import pytest
from sklearn.decomposition import TruncatedSVD
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.pipeline import make_pipeline

from modelreuse.bench.onboarding import run_onboarding
from modelreuse.datasets.importers.routing import IMPORTERS
from modelreuse.errors import RoutingDataError
from modelreuse.routing.capability import AptitudeTest, CapabilityRouter
from modelreuse.routing.encoder import query_text
from tests.conftest import DATA


@pytest.fixture(scope="module")
def metabench():
    records = IMPORTERS.get("metabench")(DATA)
    return records


def test_aptitude_test_vector_and_instruction_text(metabench):
    rng = np.random.default_rng(0)
    X = rng.normal(size=(120, 8))
    test = AptitudeTest.build(X, metabench.prompts[:120], n_clusters=6, items_per_cluster=5)
    assert len(test.items) == 30 and test.n_clusters == 6 and all(len(k.split(", ")) == 5 for k in test.keywords)
    results = np.r_[np.ones(15), np.zeros(14), np.nan]
    vector = test.vector(results)
    assert vector.shape == (36,) and not np.isnan(vector).any()
    text = test.describe(results)
    assert text.startswith("The model achieves accuracy ") and text.count("% on the task of") == 6
    with pytest.raises(RoutingDataError, match="aptitude results"):
        test.vector(np.ones(3))


def test_new_model_joins_without_retraining(metabench, tmp_path):
    scores = metabench.scores()
    models = np.flatnonzero(~np.isnan(scores).any(axis=0))[:60]
    S = scores[:, models]
    X = np.random.default_rng(0).normal(size=(len(S), 16))  # item features; the real encoder is tested elsewhere
    router = CapabilityRouter(n_clusters=5, items_per_cluster=10, steps=30, hidden=32).fit(X, S[:, :50])
    before = router.predict(X[:20])
    weights = [p.detach().clone() for p in router.net_.parameters()]
    column = router.add_model(S[router.aptitude_.items, 55])
    after = router.predict(X[:20])
    assert column == 50 and after.shape == (20, 51)
    np.testing.assert_array_equal(after[:, :50], before)
    assert all((p == w).all() for p, w in zip(router.net_.parameters(), weights))


def test_onboarding_benchmark_runs_all_methods(metabench):
    features = make_pipeline(TfidfVectorizer(min_df=2, sublinear_tf=True), TruncatedSVD(32, random_state=0))
    items = features.fit_transform([query_text(p) for p in metabench.prompts])
    report = run_onboarding(metabench, max_models=150, n_zoos=50, embeddings=items, steps=60, hidden=32)
    assert report["n_held_out"] == 30 and report["n_test_items"] == 347
    assert set(report["methods"]) == {"capability", "knn", "mf", "aptitude_mean"}
    refs = report["zoo_references"]
    for method in report["methods"].values():
        assert 0.5 < method["accuracy"] <= 1.0
        assert refs["random"] - 0.05 <= method["routing_accuracy"] <= refs["oracle"]
    assert report["example_capability_instruction"].startswith("The model achieves")
