"""TransferabilitySelector on the fixture's 8-model ranking problem (real-structured features with
a known linear-probe ground truth)."""

import json

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.exceptions import NotFittedError
from sklearn.utils.validation import check_is_fitted

from modelreuse.errors import InvalidTaskDataError, UnknownNameError
from modelreuse.selection.transferability_selector import Candidate, TransferabilitySelector
from tests.conftest import DATA

FIXTURES = DATA / "transferability" / "fixtures" / "public"


@pytest.fixture(scope="module")
def pool():
    arrays = np.load(FIXTURES / "ranking.npz")
    reference = json.loads((FIXTURES / "reference.json").read_text())["ranking"]
    rows = np.arange(len(arrays["y"]))  # the "task data" handed to each model: row indices
    candidates = [Candidate(f"model{k}", features=lambda idx, F=arrays[f"F_{k}"]: F[idx],
                            source_proba=lambda idx, P=arrays[f"P_{k}"]: P[idx]) for k in range(8)]
    return candidates, rows, arrays["y"], reference


@pytest.mark.parametrize("metric,reference_key", [("logme", "logme"), ("pactran", "pactran_dir"), ("ncti", "ncti_final")])
def test_ranking_follows_metric_orientation(pool, metric, reference_key):
    candidates, rows, y, reference = pool
    ranking = TransferabilitySelector(metric=metric, n_jobs=2).rank(candidates, rows, y)
    expected = np.asarray(reference["scores"][reference_key])
    if reference_key == "pactran_dir":
        expected = -expected  # lower is better as published
    assert ranking.ids == [f"model{k}" for k in np.argsort(-expected, kind="stable")]
    assert ranking[0].score >= ranking[-1].score
    assert ranking.method.startswith("transferability:")


def test_hscore_picks_the_best_probe_model(pool):
    candidates, rows, y, reference = pool
    ranking = TransferabilitySelector("hscore").rank(candidates, rows, y)
    best = int(np.argmax(reference["ground_truth"]["linear_probe_acc"]))
    assert ranking[0].learnware_id == f"model{best}"


def test_bad_requests(pool):
    candidates, rows, y, _ = pool
    with pytest.raises(InvalidTaskDataError, match="source head"):
        TransferabilitySelector("leep").rank([Candidate("x", features=lambda idx: np.ones((len(idx), 2)))], rows, y)
    with pytest.raises(InvalidTaskDataError, match="no candidate"):
        TransferabilitySelector("logme").rank([], rows, y)
    with pytest.raises(UnknownNameError, match="transferability metric"):
        TransferabilitySelector("nope").rank(candidates, rows, y)
    with pytest.raises(InvalidTaskDataError, match="regression"):
        TransferabilitySelector("logme_regression").rank(candidates, rows, y)


def test_selector_follows_the_estimator_contract(pool):
    candidates, rows, y, _ = pool
    selector = TransferabilitySelector("hscore", n_jobs=1)
    assert clone(selector).get_params() == selector.get_params() == {"metric": "hscore", "n_jobs": 1, "backend": None}
    with pytest.raises(NotFittedError):
        check_is_fitted(selector)
    fitted = selector.fit(candidates, rows, y)
    assert fitted.metric_.name == "hscore" and len(fitted.ranking_) == 8
    assert not hasattr(clone(fitted), "ranking_") and clone(fitted).get_params() == selector.get_params()


@pytest.mark.slow
def test_pretrained_efficientnets_rank_on_real_digits(data_root):
    """The three offline EfficientNet-Lite models as candidates on 45 real MNIST digits (0, 1, 7)."""
    from modelreuse.selection.transferability_selector import pretrained_image_candidates

    mnist = np.load(data_root / "image" / "mnist" / "mnist_28x28_uint8.npz")
    labels = mnist["test_labels"]
    rows = np.concatenate([np.flatnonzero(labels == d)[:15] for d in (0, 1, 7)])
    images, y = mnist["test_images"][rows], labels[rows]
    candidates = pretrained_image_candidates()
    assert [c.name for c in candidates] == ["efficientnet-lite0", "efficientnet-lite1", "efficientnet-lite2"]
    P = candidates[0].source_proba(images[:4])
    assert P.shape == (4, 1000) and np.allclose(P.sum(axis=1), 1.0)
    for metric in ("logme", "leep"):
        ranking = TransferabilitySelector(metric).rank(candidates, images, y)
        assert sorted(ranking.ids) == sorted(c.name for c in candidates)
        assert all(np.isfinite(e.score) for e in ranking)
