"""The two reusers of the top-k extractors of a zoo (``concat_probe``: one probe on their
concatenated features; ``probe_ensemble``: one probe each, probabilities averaged), chosen with
``Client.fit(..., reuser=...)`` on real TF-IDF/SVD extractors and SentEval CR; both save and load
without pickle. Raw rows on a dock without extractors are a typed error."""

from __future__ import annotations

import json

import numpy as np
import pytest
from sklearn.base import clone

from modelreuse import Client
from modelreuse.dock import Dock
from modelreuse.errors import EmptyDockError, InvalidTaskDataError, ModelLoadError, UnknownNameError
from modelreuse.reuse.base import EXTRACTOR_REUSERS
from modelreuse.reuse.concat_probe import ConcatProbeReuser
from modelreuse.reuse.linear_probe import LinearProbeReuser
from modelreuse.reuse.probe_ensemble import ProbeEnsembleReuser
from modelreuse.reuse.reused_model import ReusedModel
from tests.zoo.extractors import senteval_cr, text_zoo


@pytest.fixture(scope="module")
def zoo(tmp_path_factory):
    return text_zoo(tmp_path_factory)


@pytest.fixture(scope="module")
def cr():
    return senteval_cr(train=200, test=300)


@pytest.fixture(scope="module")
def models(zoo, cr):
    X, y, _, _ = cr
    return {name: Client().fit(training_data=(X, y), model_zoo_path=zoo.root, reuser=name, k=3)
            for name in ("concat_probe", "probe_ensemble")}


def test_both_are_registered_extractor_reusers():
    assert {"linear_probe", "concat_probe", "probe_ensemble"} <= set(EXTRACTOR_REUSERS.names())


@pytest.mark.parametrize("name", ["concat_probe", "probe_ensemble"])
def test_top_k_reusers_on_a_zoo(models, cr, name):
    _, _, X_test, y_test = cr
    model = models[name]
    top = model.ranking.ids[:3]
    assert model.reuser == name and [c["learnware_id"] for c in model.chosen] == top
    assert f"top 3 of 4 extractors by {model.ranking.method}" in model.explain()
    majority = max(np.mean(y_test == c) for c in np.unique(y_test))
    assert model.score(X_test, y_test) > majority + 0.02
    proba = model.predict_proba(X_test)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)
    np.testing.assert_array_equal(model.predict(X_test), model.classes_[proba.argmax(axis=1)])


def test_ensemble_is_the_mean_of_single_probes(models, cr, zoo):
    X, y, X_test, _ = cr
    ensemble = models["probe_ensemble"]
    singles = [LinearProbeReuser(zoo.load_model(i)).fit(X, y).predict_proba(X_test) for i in ensemble.ranking.ids[:3]]
    np.testing.assert_allclose(ensemble.predict_proba(X_test), np.mean(singles, axis=0), rtol=1e-6)


def test_concat_probe_weights_blocks_to_equal_variance(models):
    concat = models["concat_probe"].estimator_
    widths = concat.widths_
    total = widths.sum()
    assert concat.n_features_in_ == total and len(concat.weights_) == total
    starts = np.cumsum([0, *widths[:-1]])
    np.testing.assert_allclose(concat.weights_[starts] ** 2 * widths, total / len(widths))


@pytest.mark.parametrize("name", ["concat_probe", "probe_ensemble"])
def test_saved_without_pickle_and_predicts_the_same(models, cr, tmp_path, name):
    _, _, X_test, _ = cr
    model = models[name]
    folder = model.save(tmp_path / "model")
    files = sorted(str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file())
    assert files == ["learnwares/000.zip", "learnwares/001.zip", "learnwares/002.zip", "model.json", "state.skops"]
    saved = json.loads((folder / "model.json").read_text())
    assert saved["probe"]["reuser"] == name and saved["probe"]["learnware_ids"] == model.ranking.ids[:3]
    loaded = ReusedModel.load(folder)
    np.testing.assert_allclose(loaded.predict_proba(X_test), model.predict_proba(X_test))
    assert loaded.explain() == model.explain() and loaded.reuser == name
    for key, value in (("learnware_ids", saved["probe"]["learnware_ids"][::-1]),  # packages no longer match
                       ("reuser", "linear_probe")):  # a reuser of one extractor listing three
        (folder / "model.json").write_text(json.dumps({**saved, "probe": {**saved["probe"], key: value}}))
        with pytest.raises(ModelLoadError, match="not exactly the probed extractors"):
            ReusedModel.load(folder)


def test_clone_and_bad_input(zoo, cr):
    X, y, _, _ = cr
    extractors = tuple(zoo.load_model(c["id"]) for c in zoo.list()[:2])
    for cls in (ConcatProbeReuser, ProbeEnsembleReuser):
        copy = clone(cls(extractors, C=0.5))
        assert copy.extractors[0] is extractors[0] and copy.C == 0.5 and not hasattr(copy, "classes_")
        with pytest.raises(InvalidTaskDataError, match="needs extractors="):
            cls().fit(X, y)
        with pytest.raises(InvalidTaskDataError, match="at least 2 classes"):
            cls(extractors).fit(X, np.zeros(len(X)))
    with pytest.raises(UnknownNameError, match="on a zoo pass reuser='auto' or one of concat_probe, linear_probe"):
        Client().fit(training_data=(X, y), model_zoo_path=zoo.root, reuser="averaging")
    with pytest.raises(InvalidTaskDataError, match="k .* must be an integer >= 1"):
        Client().fit(training_data=(X, y), model_zoo_path=zoo.root, reuser="concat_probe", k=0)


def test_raw_rows_on_a_dock_without_extractors_is_a_typed_error(cr, tmp_path):
    X, y, _, _ = cr
    with pytest.raises(EmptyDockError, match="this dock has none: pass model_zoo_path=a zoo"):
        Client().fit(training_data=(X, y), model_zoo_path=Dock(tmp_path / "dock", create=True).root)
