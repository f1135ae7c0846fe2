"""Routers on real RouterDC / RouterBench records: each learns, saves and loads without pickle,
and decides under cost and budget with typed errors for bad requests.

Score models are fed cheap real features (TF-IDF -> SVD of the prompts) so the suite stays fast;
the MiniLM query encoder has its own test."""

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.decomposition import TruncatedSVD
from sklearn.exceptions import NotFittedError
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.pipeline import make_pipeline

from modelreuse.datasets.importers.routing import IMPORTERS
from modelreuse.errors import RoutingDataError, UnknownNameError
from modelreuse.routing.base import ROUTERS, ScoreModel, decide
from modelreuse.routing.encoder import encode_queries, query_text
from modelreuse.routing.router import Router
from tests.conftest import DATA

TASKS = ("mmlu", "gsm8k", "arc_challenge", "humaneval")


@pytest.fixture(scope="module")
def routerdc():
    records = IMPORTERS.get("routerdc")(DATA)
    table = records.table[records.table["task"].isin(TASKS)]
    rng = np.random.default_rng(0)
    parts = {}
    for split, n in (("train", 1500), ("test", 800)):
        rows = table[table["split"] == split]
        parts[split] = records.__class__(rows.iloc[np.sort(rng.choice(len(rows), n, replace=False))].reset_index(drop=True))
    features = make_pipeline(TfidfVectorizer(min_df=2, sublinear_tf=True), TruncatedSVD(64, random_state=0))
    X_train = features.fit_transform(parts["train"].prompts)
    return parts["train"], parts["test"], X_train, features.transform(parts["test"].prompts)


def _routed_score(router, test, X_test) -> float:
    chosen = decide(router.predict(embeddings=X_test, tasks=test.tasks))
    return float(test.scores()[np.arange(len(chosen)), chosen].mean())


# quick settings so the contract test stays fast; a router not listed runs with its defaults
FAST = {"mlp": {"epochs": 15}, "mf": {"epochs": 15},
        "capability": {"steps": 80, "hidden": 32, "n_clusters": 8, "items_per_cluster": 10}}


def _score_model(name: str, **extra) -> ScoreModel:
    return ROUTERS.get(name)(**FAST.get(name, {}), **extra)


@pytest.mark.parametrize("name", ROUTERS.names())
def test_router_contract(name, routerdc, tmp_path):
    """Every registered score model: a scikit-learn estimator that learns to route real RouterDC
    queries better than random, clones fitted or not, and saves/loads without pickle."""
    train, test, X_train, X_test = routerdc
    unfitted = _score_model(name)
    assert clone(unfitted).get_params() == unfitted.get_params()
    with pytest.raises(NotFittedError):
        unfitted.predict(X_test, test.tasks)
    router = Router(unfitted).fit(train, X_train)
    assert router.score_model is unfitted and not hasattr(unfitted, "n_features_in_")  # fit cloned it
    assert router.n_features_in_ == router.score_model_.n_features_in_ == X_train.shape[1]
    predicted = router.predict(embeddings=X_test, tasks=test.tasks)
    assert predicted.shape == (len(test.table), len(train.models))
    assert ((predicted >= 0) & (predicted <= 1)).all()
    assert _routed_score(router, test, X_test) > float(test.scores().mean()) + 0.02
    again = Router(unfitted).fit(train, X_train).predict(embeddings=X_test, tasks=test.tasks)
    np.testing.assert_array_equal(again, predicted)  # one configuration (seed included), one fitted router

    for fitted in (router, router.score_model_):  # clone of a fitted estimator: same settings, unfitted
        fresh = clone(fitted)
        assert fresh.get_params(deep=False).keys() == fitted.get_params(deep=False).keys()
        assert not [k for k in vars(fresh) if k.endswith("_")]
    assert clone(router).score_model.get_params() == router.score_model_.get_params()
    with pytest.raises(NotFittedError):
        clone(router).predict(embeddings=X_test)
    with pytest.raises(RoutingDataError, match=f"has {X_test.shape[1] - 1} features, but .* expecting {X_test.shape[1]}"):
        router.predict(embeddings=X_test[:, :-1], tasks=test.tasks)

    router.save(tmp_path / name)
    assert sorted(p.name for p in (tmp_path / name).iterdir()) == ["router.json", "router.npz"]
    loaded = Router.load(tmp_path / name)
    assert loaded.score_model.get_params() == router.score_model_.get_params()
    np.testing.assert_allclose(loaded.predict(embeddings=X_test, tasks=test.tasks), predicted, atol=1e-6)


def test_router_by_name_uses_the_registered_defaults(routerdc):
    train, _, X_train, _ = routerdc
    router = Router("knn").fit(train, X_train)
    assert isinstance(router.score_model_, ROUTERS.get("knn"))
    assert router.score_model_.get_params() == ROUTERS.get("knn")().get_params()
    with pytest.raises(UnknownNameError, match="unknown router 'oracle'"):
        Router("oracle").fit(train, X_train)


def test_lookup_router_is_the_per_task_best_model(routerdc):
    train, test, X_train, X_test = routerdc
    predicted = Router("lookup").fit(train, X_train).predict(embeddings=X_test, tasks=test.tasks)
    for task in TASKS:
        best = np.nanargmax(np.nanmean(train.scores()[train.tasks == task], axis=0))
        assert set(decide(predicted[test.tasks == task])) == {best}


@pytest.fixture(scope="module")
def routerbench():
    records = IMPORTERS.get("routerbench")(DATA)
    train = records.split("train")
    X = make_pipeline(TfidfVectorizer(min_df=2), TruncatedSVD(32, random_state=0)).fit_transform(train.prompts)
    return Router(ROUTERS.get("knn")(k=20)).fit(train, X), X


def test_willingness_to_pay_and_budget_trade_cost_for_quality(routerbench):
    router, X = routerbench
    predicted = router.predict(embeddings=X[:300])
    cheapest = int(np.argmin(router.costs_))
    assert set(decide(predicted, router.costs_, lam=0.0)) == {cheapest}
    free_choice = router.costs_[decide(predicted, router.costs_)].mean()
    budget = (router.costs_.min() + free_choice) / 2
    within = decide(predicted, router.costs_, budget=budget)
    assert router.costs_[within].mean() <= budget < free_choice
    with pytest.raises(RoutingDataError, match="below the cheapest"):
        decide(predicted, router.costs_, budget=router.costs_.min() / 2)
    with pytest.raises(RoutingDataError, match="either lam or budget"):
        decide(predicted, router.costs_, lam=1.0, budget=1.0)


def test_route_rejects_unknown_models_and_empty_queries(routerbench, tmp_path):
    router, _ = routerbench
    with pytest.raises(RoutingDataError, match="unknown model"):
        router.route(["What is 2+2?"], models=["gpt-9"])
    with pytest.raises(RoutingDataError, match="non-empty"):
        router.route(["   "])
    with pytest.raises(RoutingDataError, match="no saved router"):
        Router.load(tmp_path)


def test_query_encoder_reads_the_tail_of_long_prompts_and_caches(tmp_path):
    records = IMPORTERS.get("routerbench")(DATA)
    prompts = [p for p in records.prompts if len(p) > 3000][:8]
    assert all(query_text(p).split()[-3:] == p.split()[-3:] and len(query_text(p)) <= 1000 for p in prompts)
    first = encode_queries(prompts, tmp_path)
    assert first.shape == (8, 384) and len(list(tmp_path.glob("*.npy"))) == 1
    np.testing.assert_array_equal(encode_queries(prompts, tmp_path), first)
    np.testing.assert_allclose(np.linalg.norm(first, axis=1), 1.0, atol=1e-6)
