"""Fitting PAVE vectors on real rows with the real MiniLM / EfficientNet-Lite0 weights: seeded and
deterministic, on the shared base, the caller's torch thread count kept, the frozen base equal to the
dock's encoders, and bad tasks or models refused with typed errors. Few rows and steps: these check the
machinery; the quality check (same-dataset task vectors closest to the model vector) runs in the PAVE
benchmark."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from sklearn.linear_model import LogisticRegression

from modelreuse.datasets.images import mnist
from modelreuse.datasets.text import label_first
from modelreuse.errors import InvalidTaskDataError, ModelPredictError, SchemaError, SpecError
from modelreuse.specs import _pave_image, _pave_text
from modelreuse.specs.pave import PAVESpec
from modelreuse.specs.pave_base import PAVEBase

STEPS = 3


@pytest.fixture(scope="module")
def reviews(data_root) -> tuple[list[str], np.ndarray]:
    """24 real customer reviews (SentEval CR), 12 per class."""
    texts, labels = label_first(data_root / "text" / "senteval" / "custrev.all.gz")
    y = np.array(labels, dtype=int)
    rows = np.concatenate([np.flatnonzero(y == c)[:12] for c in (0, 1)])
    return [texts[i] for i in rows], y[rows]


@pytest.fixture(scope="module")
def digits(data_root) -> tuple[np.ndarray, np.ndarray]:
    """12 real MNIST digits, 4 each of 0, 1 and 7."""
    X, y = mnist(data_root, "train")
    rows = np.concatenate([np.flatnonzero(y == c)[:4] for c in (0, 1, 7)])
    return X[rows], y[rows]


@pytest.fixture(scope="module")
def text_base() -> PAVEBase:
    return PAVEBase.create("text", rank=4, seed=0)


@pytest.fixture(scope="module")
def image_base() -> PAVEBase:
    return PAVEBase.create("image", rank=2, seed=0)


def test_text_task_vector_is_seeded_and_keeps_the_callers_threads(reviews, text_base):
    texts, y = reviews
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        first = PAVESpec.fit_task(texts, y, text_base, k=8, steps=STEPS, seed=0)
        assert torch.get_num_threads() == 1
    finally:
        torch.set_num_threads(before)
    again = PAVESpec.fit_task(texts, y, text_base, k=8, steps=STEPS, seed=0)
    other = PAVESpec.fit_task(texts, y, text_base, k=8, steps=STEPS, seed=1)
    np.testing.assert_array_equal(first.vector, again.vector)
    assert not np.array_equal(first.vector, other.vector)
    assert (first.role, first.n_classes, first.steps, first.rank) == ("task", 2, STEPS, 4)
    first.check_base(text_base)
    assert len(first.vector) == text_base.vector_length and first.norm > 0


def test_text_model_vector_fits_the_models_predictions_on_the_base_embeddings(reviews, text_base):
    from modelreuse.models.encoders import encode_text

    texts, y = reviews
    frozen = _pave_text.prepare(texts, text_base).frozen
    np.testing.assert_allclose(frozen, encode_text(texts), atol=1e-5)  # the base is the dock's text encoder
    model = LogisticRegression().fit(frozen, y)
    spec = PAVESpec.fit_model(model, texts, text_base, encoder="all-MiniLM-L6-v2", steps=STEPS, dtype="float16")
    same = PAVESpec.fit_model(model, texts, text_base, encoder=encode_text, steps=STEPS, dtype="float16")
    assert spec.role == "model" and spec.vector.dtype == np.float16 and spec.n_classes == 2
    assert spec.cosine(same) > 0.99
    flipped = PAVESpec.fit_model(_Flipped(model), texts, text_base, encoder="all-MiniLM-L6-v2", steps=STEPS)
    assert spec.cosine(flipped) < spec.cosine(same)


class _Flipped:
    """A model that predicts the opposite class."""

    def __init__(self, model):
        self.model = model

    def predict_proba(self, X):
        return self.model.predict_proba(X)[:, ::-1]


class _Broken:
    def __init__(self, output):
        self.output = output

    def predict_proba(self, X):
        return self.output(len(X))


@pytest.mark.parametrize(("model", "error"), [
    (object(), ModelPredictError),
    (_Broken(lambda n: np.full((n, 2), np.nan)), SchemaError),
    (_Broken(lambda n: np.ones((n, 1))), SchemaError),
    (_Broken(lambda n: np.ones((n + 1, 2))), SchemaError),
    (_Broken(lambda n: -np.ones((n, 2))), SchemaError),
])
def test_a_model_without_usable_probabilities_is_refused(reviews, text_base, model, error):
    with pytest.raises(error):
        PAVESpec.fit_model(model, reviews[0], text_base, steps=STEPS)


def test_bad_user_tasks_are_refused(reviews, text_base, image_base):
    texts, y = reviews
    cases = [
        (texts, np.zeros(len(y), dtype=int), 4),          # one class
        (texts, y, 13),                                   # 12 rows per class < k
        (texts, np.where(np.arange(len(y)) == 3, np.nan, y.astype(float)), 4),
        (texts, y[:-1], 4),                                # one label short
        ([*texts[:-1], None], y, 4),                       # a missing text
        ("one string", y, 4),
        (texts, y, 0),
    ]
    for X, labels, k in cases:
        with pytest.raises(InvalidTaskDataError):
            PAVESpec.fit_task(X, labels, text_base, k=k, steps=STEPS)
    with pytest.raises(InvalidTaskDataError):
        PAVESpec.fit_task(np.zeros((4, 8, 8), dtype=np.float32), np.array([0, 0, 1, 1]), image_base, k=2, steps=STEPS)
    with pytest.raises(InvalidTaskDataError):
        PAVESpec.fit_task(texts, y, text_base, k=4, steps=0)
    with pytest.raises(SpecError):
        PAVESpec.fit_task(texts, y, base=object(), k=4, steps=STEPS)


def test_image_vectors_are_seeded_and_use_the_dock_encoders_features(digits, image_base):
    from modelreuse.models.encoders import encode_images

    X, y = digits
    task = PAVESpec.fit_task(X, y, image_base, k=2, steps=STEPS, seed=0)
    np.testing.assert_array_equal(task.vector, PAVESpec.fit_task(X, y, image_base, k=2, steps=STEPS, seed=0).vector)
    assert task.n_classes == 3 and task.modality == "image" and len(task.vector) == image_base.vector_length
    features = _pave_image.encoder_features(_pave_image.check_inputs(X, "X"), None)
    np.testing.assert_allclose(features, encode_images(X), atol=1e-5)
    model = LogisticRegression(max_iter=500).fit(features, y)
    spec = PAVESpec.fit_model(model, X, image_base, encoder="efficientnet-lite0", steps=STEPS)
    assert spec.role == "model" and spec.n_classes == 3 and np.isfinite(spec.cosine(task))
