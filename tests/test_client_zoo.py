"""``Client().fit(training_data=(X, y), model_zoo_path=DOCK)`` on a dock of feature-extraction learnwares:
transferability selection (LogME through the dock's ``transferability`` selector), then a linear
probe; on a real target (SentEval CR) with real extractors (TF-IDF/SVD encoders
fitted on real corpora; the image side is in tests/zoo/test_image_zoo_fit.py)."""

from __future__ import annotations

import numpy as np
import pytest

from modelreuse import Client
from modelreuse.dock import Dock
from modelreuse.errors import EmptyDockError, InvalidTaskDataError
from modelreuse.reuse.linear_probe import LinearProbeReuser
from modelreuse.reuse.reused_model import ReusedModel
from modelreuse.selection.methods.transferability import ExtractorQuery
from tests.zoo.extractors import senteval_cr, text_extractor_packages


@pytest.fixture(scope="module")
def text_packages(tmp_path_factory):
    folder = tmp_path_factory.mktemp("text-packages")
    text_extractor_packages(folder)
    return folder


@pytest.fixture(scope="module")
def text_dock(text_packages, tmp_path_factory):
    dock = Dock(tmp_path_factory.mktemp("text-zoo"))
    dock.submit_many(sorted(text_packages.iterdir()), validate=False)
    return dock


@pytest.fixture(scope="module")
def cr():
    return senteval_cr()


@pytest.fixture(scope="module")
def text_model(text_dock, cr):
    X, y, _, _ = cr
    return Client().fit(training_data=(X, y), model_zoo_path=text_dock.root, reuser="linear_probe")  # auto: CV, see
    # tests/zoo/test_coupled_choice.py


def test_text_zoo_selects_by_logme_and_probes(text_model, cr):
    _, _, X_test, y_test = cr
    explanation = text_model.explain()
    assert text_model.reuser == "linear_probe"
    assert text_model.ranking.method == "transferability:logme" and len(text_model.ranking) == 4
    scores = [e.score for e in text_model.ranking]
    assert scores == sorted(scores, reverse=True) and np.isfinite(scores).all()
    winner = text_model.ranking[0]
    assert text_model.chosen[0]["learnware_id"] == winner.learnware_id
    assert f"{winner.name} [{winner.learnware_id}]" in explanation and "probed: logistic regression" in explanation
    for r, entry in enumerate(text_model.ranking, start=1):
        assert f"  {r}. {entry.name} [{entry.learnware_id}]: score {entry.score:.4g}" in explanation
    majority = max(np.mean(y_test == c) for c in np.unique(y_test))
    assert text_model.score(X_test, y_test) > majority + 0.02


def test_fitted_zoo_model_saves_without_pickle_and_predicts_the_same(text_model, cr, tmp_path):
    _, _, X_test, _ = cr
    folder = text_model.save(tmp_path / "model")
    files = sorted(str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file())
    assert files == ["learnwares/000.zip", "model.json", "state.skops"]
    loaded = ReusedModel.load(folder)
    np.testing.assert_array_equal(loaded.predict(X_test), text_model.predict(X_test))
    np.testing.assert_allclose(loaded.predict_proba(X_test), text_model.predict_proba(X_test))
    assert loaded.explain() == text_model.explain()


def test_selection_extracts_once_per_candidate_and_keeps_the_time_budget(text_dock, cr):
    X, y, _, _ = cr
    calls: dict[str, int] = {}

    def load(learnware_id):
        extractor = text_dock.load_model(learnware_id)
        real = extractor.features

        def counted(rows):
            calls[learnware_id] = calls.get(learnware_id, 0) + 1
            return real(rows)

        extractor.features = counted
        return extractor

    query = ExtractorQuery(X, y, "text", load)
    ranking = text_dock.search(query, method="transferability", k=10, n_jobs=2)
    assert calls == dict.fromkeys(calls, 1) and set(calls) == set(query.features) == set(ranking.ids)
    again = text_dock.search(query, method="transferability", k=10, exclude=(ranking[0].learnware_id,))
    assert calls == dict.fromkeys(calls, 1) and again.ids == ranking.ids[1:]  # outputs kept in the query
    spent = ExtractorQuery(X, y, "text", text_dock.load_model)
    partial = text_dock.search(spent, method="transferability", k=10, n_jobs=1, time_budget_s=0.0)
    assert len(partial) == 1 and len(partial.details["unscored"]) == 3  # the first batch only


def test_linear_probe_is_a_clonable_estimator(text_dock, cr):
    from sklearn.base import clone

    X, y, X_test, y_test = cr
    probe = LinearProbeReuser(text_dock.load_model(text_dock.list()[0]["id"]), C=0.5)
    assert clone(probe).get_params()["C"] == 0.5 and not hasattr(clone(probe), "head_")
    assert probe.fit(X, y).score(X_test, y_test) > 0.5 and probe.head_[-1].C == 0.5


def test_bad_zoo_input_is_a_typed_error(text_dock, cr):
    X, y, _, _ = cr
    with pytest.raises(InvalidTaskDataError, match="single class"):
        Client().fit(training_data=(X, np.zeros(len(X), dtype=int)), model_zoo_path=text_dock.root)
    with pytest.raises(InvalidTaskDataError, match="is for classification"):
        Client().fit(training_data=(X, np.linspace(0, 1, len(X))), model_zoo_path=text_dock.root)
    with pytest.raises(InvalidTaskDataError, match="needs labelled rows"):
        Client().fit(training_data=X, model_zoo_path=text_dock.root, task_type="classification")
    images = np.zeros((20, 28, 28, 3), dtype=np.uint8)
    with pytest.raises(EmptyDockError, match="no image feature extractor.*--preset image"):
        Client().fit(training_data=(images, np.arange(20) % 2), model_zoo_path=text_dock.root)


def test_a_trained_metric_ensemble_ranks_when_given(text_dock, cr):
    """The learned ensemble (trained here on two real SentEval targets with probe-accuracy ground truth)
    ranks the zoo from LogME and NCE (source-head probabilities) plus feature sizes."""
    from modelreuse.datasets.text import target_tasks
    from modelreuse.selection.transferability import get_metric
    from modelreuse.selection.transferability.linear_probe import probe_accuracy
    from modelreuse.selection.transferability_ensemble import MetricEnsembleRanker, RankingTask
    from tests.conftest import DATA

    metrics = ("logme", "nce")
    extractors = [text_dock.load_model(c["id"]) for c in text_dock.list()]
    tasks = []
    for name in ("mr", "subj"):
        texts, labels = target_tasks(DATA)[name]["all"]
        rows = np.random.default_rng(0).choice(len(texts), 400, replace=False)
        X, y = [texts[i] for i in rows], np.asarray(labels)[rows]
        scores = [[get_metric(m).fn(e.source_proba(X) if get_metric(m).kind == "probabilities" else e.features(X), y)
                   for m in metrics] for e in extractors]
        truth = [probe_accuracy((e.features(X[:200]), y[:200]), (e.features(X[200:]), y[200:])) for e in extractors]
        tasks.append(RankingTask(np.asarray(scores), np.array([e.feature_size for e in extractors]), 200,
                                 np.asarray(truth)))
    ranker = MetricEnsembleRanker().fit(tasks)
    X, y, X_test, y_test = cr
    model = Client().fit(training_data=(X, y), model_zoo_path=text_dock.root, ranker=(ranker, metrics))
    assert model.ranking.method == "transferability:ensemble" and len(model.ranking) == 4
    assert set(model.ranking[0].details["scores"]) == {"logme", "nce"}
    assert "learned metric ensemble" in model.explain() and "coupled choice" in model.explain()
    assert model.score(X_test, y_test) > 0.5
