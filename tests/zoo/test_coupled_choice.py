"""The coupled (model, adaptation) choice of ``Client.fit(..., reuser="auto")`` on a zoo
(:mod:`modelreuse.reuse.coupled`): the LogME ranking prunes, a bounded set of pairs is compared by
stratified CV accuracy on the user's rows from the features the ranking extracted, the winner is
refitted on all rows; real TF-IDF/SVD extractors and SentEval CR."""

from __future__ import annotations

import re

import numpy as np
import pytest
from sklearn.model_selection import StratifiedKFold, cross_val_score

from modelreuse import Client
from modelreuse.models.extractors import FeatureExtractor
from modelreuse.reuse.coupled import CachedFeatures, candidate_pairs, choose_pair
from modelreuse.reuse.linear_probe import LinearProbeReuser
from modelreuse.reuse.reused_model import ReusedModel
from tests.zoo.extractors import senteval_cr, text_zoo

PAIR_LINE = re.compile(r"^  (.+): CV accuracy (\d\.\d{3}) ± (\d\.\d{3}) \(", re.M)


@pytest.fixture(scope="module")
def zoo(tmp_path_factory):
    return text_zoo(tmp_path_factory)


@pytest.fixture(scope="module")
def cr():
    return senteval_cr(train=160, test=300)


def test_auto_compares_pairs_by_cv_and_refits_the_winner(zoo, cr, monkeypatch, tmp_path):
    X, y, X_test, y_test = cr
    calls: dict[str, int] = {}
    real = FeatureExtractor._backbone

    def counted(self, raw):
        calls[self.name] = calls.get(self.name, 0) + 1
        return real(self, raw)

    monkeypatch.setattr(FeatureExtractor, "_backbone", counted)
    model = Client().fit(training_data=(X, y), model_zoo_path=zoo.root, k=3)
    assert calls == dict.fromkeys(calls, 1) and len(calls) == 4  # extracted once each, for ranking only
    text = model.explain()
    tried = PAIR_LINE.findall(text)
    names = [e.name for e in model.ranking]
    assert [t[0] for t in tried] == [f"linear_probe on {names[0]}",
                                     f"concat_probe over top 3 ({', '.join(names[:3])})",
                                     f"probe_ensemble over top 3 ({', '.join(names[:3])})",
                                     f"linear_probe on {names[1]}", f"linear_probe on {names[2]}"]
    assert "5 (model, adaptation) pairs compared by 5-fold stratified CV accuracy" in text
    means = [float(t[1]) for t in tried]
    winner = tried[int(np.argmax(means))][0]
    assert f"winner: {winner}: best CV accuracy {max(means):.3f} vs" in text
    assert winner.startswith(model.reuser)
    if model.reuser == "linear_probe":
        assert winner == f"linear_probe on {model.chosen[0]['name']}"
    for r, entry in enumerate(model.ranking, start=1):  # the ranking is shown too
        assert f"  {r}. {entry.name} [{entry.learnware_id}]: score {entry.score:.4g}" in text
    majority = max(np.mean(y_test == c) for c in np.unique(y_test))
    assert model.score(X_test, y_test) > majority + 0.02
    loaded = ReusedModel.load(model.save(tmp_path / "model"))
    assert loaded.explain() == text and loaded.reuser == model.reuser
    np.testing.assert_allclose(loaded.predict_proba(X_test[:50]), model.predict_proba(X_test[:50]))


def test_cv_scores_are_those_of_the_real_reuser(zoo, cr):
    """The CV of a pair on cached features equals sklearn's CV of the reuser on the extractor itself."""
    X, y, _, _ = cr
    extractor = zoo.load_model(zoo.list()[0]["id"])
    features = {extractor.learnware_id: extractor.features(X)}
    choice = choose_pair([(extractor.learnware_id, extractor.name)], features, y, k=1)
    assert len(choice.tried) == 1 and choice.pair.reuser == "linear_probe" and not choice.untried
    rows = np.asarray(X, dtype=object)
    cv = StratifiedKFold(n_splits=5, shuffle=True, random_state=0)
    direct = cross_val_score(LinearProbeReuser(extractor), rows, np.asarray(y).astype(str), cv=cv, scoring="accuracy")
    np.testing.assert_allclose(choice.tried[0].scores, direct)
    assert CachedFeatures("a", "a", np.eye(3)).features([2, 0]).tolist() == [[0, 0, 1], [1, 0, 0]]


def test_pairs_are_bounded_by_k_and_the_ranking():
    ranked = [(str(i), f"m{i}") for i in range(6)]
    assert [(p.reuser, len(p.ids)) for p in candidate_pairs(ranked, k=4)] == [
        ("linear_probe", 1), ("concat_probe", 4), ("probe_ensemble", 4), ("linear_probe", 1), ("linear_probe", 1)]
    assert [p.reuser for p in candidate_pairs(ranked, k=1)] == ["linear_probe"] * 3
    assert [p.reuser for p in candidate_pairs(ranked[:1], k=5)] == ["linear_probe"]


def test_a_spent_time_budget_stops_trying_pairs(zoo, cr):
    X, y, _, _ = cr
    model = Client().fit(training_data=(X, y), model_zoo_path=zoo.root, k=2, time_budget_s=0.0, n_jobs=4)
    text = model.explain()
    assert len(model.ranking) == 4 and len(PAIR_LINE.findall(text)) == 1  # the first pair is always tried
    assert "not tried (time budget of 0.0 s spent): concat_probe over top 2" in text
    assert model.reuser == "linear_probe" and model.chosen[0]["learnware_id"] == model.ranking[0].learnware_id


def test_a_class_with_one_row_falls_back_to_the_top_probe(zoo, cr):
    X, y, X_test, y_test = cr
    keep = [i for i, label in enumerate(y) if label != y[0]][:30] + [0]  # one row of y[0]'s class
    model = Client().fit(training_data=([X[i] for i in keep], y[keep]), model_zoo_path=zoo.root)
    text = model.explain()
    assert "coupled choice: not cross-validated (a class has 1 labelled row" in text and not PAIR_LINE.findall(text)
    assert model.reuser == "linear_probe" and model.chosen[0]["learnware_id"] == model.ranking[0].learnware_id
    assert model.predict(X_test[:5]).shape == (5,)


def test_an_explicit_reuser_is_not_cross_validated(zoo, cr):
    X, y, _, _ = cr
    model = Client().fit(training_data=(X, y), model_zoo_path=zoo.root, reuser="linear_probe")
    assert model.reuser == "linear_probe" and "coupled choice" not in model.explain()
    assert model.chosen[0]["learnware_id"] == model.ranking[0].learnware_id
