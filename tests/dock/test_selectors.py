"""Contract of every registered selector (one parametrised test over ``SELECTORS.names()``) on a real
dock: four Beijing station learnwares with RKME and records specs, and one learnware with only its
card. A new selector adds its query (and required parameters) to ``QUERIES``."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression, Ridge

from modelreuse.dock import Dock
from modelreuse.errors import EmptyDockError, ManifestError, UnknownNameError
from modelreuse.learnware import Learnware
from modelreuse.models.encoders import TEXT_ENCODER
from modelreuse.selection.base import SELECTORS, selectors_for
from modelreuse.selection.learned.modellens import ModelLens
from modelreuse.selection.ranking import Ranking
from modelreuse.specs.pave import PAVESpec
from modelreuse.task import Task
from tests.conftest import SITES, build_site_learnware, user_half

DESCRIPTION = "hourly PM2.5 at the Huairou monitoring station"


@pytest.fixture(scope="module")
def dock(beijing, tmp_path_factory):
    packages = tmp_path_factory.mktemp("selector-learnwares")
    board = {f"{site} held-out": user_half(beijing, site) for site in SITES}
    dock = Dock(tmp_path_factory.mktemp("selector-dock"))
    ids = {s: dock.submit(build_site_learnware(packages, s, beijing[s], beijing["_feature_names"], board), validate=False)
           for s in SITES}
    X, y = user_half(beijing, "Huairou")
    card_only = Learnware.build(packages / "card-only", Ridge().fit(X, y), name="Huairou card only",
                                task_type="regression", target="PM2.5", feature_names=beijing["_feature_names"],
                                description=DESCRIPTION, tags=["air"])
    ids["card-only"] = dock.submit(card_only)  # validated in the sandbox on probe rows (no RKME)
    return dock, ids


@pytest.fixture(scope="module")
def recommender(dock, tmp_path_factory):
    return ModelLens(steps=150, members=1, seed=0, cache=tmp_path_factory.mktemp("cache")).fit(dock[0].leaderboard())


@pytest.fixture(scope="module")
def pave_dock(tmp_path_factory):
    """Three text learnwares whose PAVE model vectors are (seeded) random vectors on the dock's text
    base, and a task vector near the first (the parameter selector needs specs no tabular learnware
    has; the fitting is tested in tests/specs)."""
    dock = Dock(tmp_path_factory.mktemp("pave-selector-dock"))
    base = dock.pave_base("text")
    rng = np.random.default_rng(0)
    vectors = rng.standard_normal((3, base.vector_length))
    model = LogisticRegression().fit(rng.standard_normal((20, 384)), np.arange(20) % 2)
    packages = tmp_path_factory.mktemp("pave-selector-packages")
    for i, vector in enumerate(vectors):
        spec = PAVESpec.from_vector(vector, base, steps=10, role="model", n_classes=2)
        dock.submit(Learnware.build(packages / f"lw{i}", model, specs=[spec], name=f"text {i}",
                                    task_type="classification", modality="text", classes=[0, 1], n_features=384,
                                    encoder=TEXT_ENCODER), validate=False)
    query = PAVESpec.from_vector(vectors[0] + 0.5 * rng.standard_normal(base.vector_length), base, steps=10,
                                 role="task", n_classes=2)
    return dock, query


@pytest.fixture(scope="module")
def extractor_dock(tmp_path_factory):
    """Two text feature extractors (TF-IDF/SVD encoders fitted on SMS spam) and SentEval CR rows."""
    from modelreuse.selection.methods.transferability import ExtractorQuery
    from tests.zoo.extractors import senteval_cr, text_extractor_packages

    dock = Dock(tmp_path_factory.mktemp("extractor-dock"))
    dock.submit_many(text_extractor_packages(tmp_path_factory.mktemp("extractors"), sources=("sms_spam",)),
                     validate=False)
    X, y, _, _ = senteval_cr(train=200, test=0)
    return dock, ExtractorQuery(X, y, "text", dock.load_model)


def _rows(request):
    beijing = request.getfixturevalue("beijing")
    return "dock", Task(X=user_half(beijing, "Huairou")[0], task_type="regression", description=DESCRIPTION), {}


def _records(request):
    return "dock", DESCRIPTION, {"recommender": request.getfixturevalue("recommender"), "metric": "rmse",
                                 "leaderboard_task": "PM2.5 regression"}


def _task_vector(request):
    return "pave_dock", request.getfixturevalue("pave_dock")[1], {}


QUERIES = {  # selector -> (request -> (dock fixture, query, options))
    "statistical": _rows,
    "mixture": _rows,
    "semantic": lambda request: ("dock", DESCRIPTION, {}),
    "records": _records,
    "parameter": _task_vector,
    "transferability": lambda request: ("extractor_dock", request.getfixturevalue("extractor_dock")[1], {}),
}


@pytest.mark.parametrize("name", SELECTORS.names())
def test_selector_contract(name, request):
    if name not in QUERIES:
        pytest.fail(f"selector {name!r} has no query in QUERIES; add one")
    fixture, query, options = QUERIES[name](request)
    dock = request.getfixturevalue(fixture)[0]
    meta = SELECTORS.metadata(name)
    assert set(meta) >= {"spec_kinds", "feature_space", "help"}
    ranking = dock.search(query, method=name, k=2, **options)
    assert isinstance(ranking, Ranking) and 1 <= len(ranking) <= 2 and len(set(ranking.ids)) == len(ranking)
    scores = [e.score for e in ranking]
    assert np.isfinite(scores).all() and scores == sorted(scores, reverse=True)
    for entry in ranking:
        assert set(meta["spec_kinds"]) <= set(dock.card(entry.learnware_id)["spec_kinds"])
    assert ("feature_space" in ranking.details) == meta["feature_space"]
    without = dock.search(query, method=name, k=2, exclude=(ranking[0].learnware_id,), **options)
    assert ranking[0].learnware_id not in without.ids
    with pytest.raises(UnknownNameError, match="unknown filter"):
        dock.search(query, method=name, no_such_option=1, **options)


def test_unknown_method_lists_the_selectors(dock):
    with pytest.raises(UnknownNameError, match="registered: " + ", ".join(SELECTORS.names())):
        dock[0].search("PM2.5", method="bogus")


def test_card_only_learnware_is_found_by_semantic_search_not_statistical(dock, beijing):
    dock, ids = dock
    assert dock.get(ids["card-only"]).spec_kinds == ["semantic"]
    with pytest.raises(ManifestError, match="no 'rkme' spec"):
        dock.get(ids["card-only"]).spec("rkme")
    assert dock.search("card only", method="semantic", k=1).ids == [ids["card-only"]]
    task = Task(X=user_half(beijing, "Huairou")[0], task_type="regression")
    assert ids["card-only"] not in dock.search(task, k=10).ids
    assert ids["card-only"] not in dock.search(task, method="mixture").ids
    with pytest.raises(EmptyDockError, match="spec kind"):
        dock.search(task, exclude=(), task_type="regression", modality="image")
    assert selectors_for("rkme") == ["mixture", "statistical"] and "semantic" in selectors_for("semantic")
