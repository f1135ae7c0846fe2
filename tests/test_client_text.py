"""Client.fit on raw text: learnwares over MiniLM embeddings, one per CLINC150 domain."""

import gzip
import json

import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression

from modelreuse import Client
from modelreuse.dock import Dock
from modelreuse.learnware import Learnware
from modelreuse.models.encoders import TEXT_ENCODER, encode_text
from modelreuse.specs.rkme import RKMESpec

DOMAINS = ("banking", "travel", "kitchen_and_dining")


@pytest.fixture(scope="module")
def clinc(data_root):
    root = data_root / "text" / "clinc150"
    with gzip.open(root / "data_full.json.gz", "rt") as f:
        data = json.load(f)
    with gzip.open(root / "domains.json.gz", "rt") as f:
        domains = json.load(f)
    rng = np.random.default_rng(0)
    out = {}
    for d in DOMAINS:
        rows = [r for r in data["train"] + data["test"] if r[1] in set(domains[d])]
        rows = [rows[i] for i in rng.permutation(len(rows))[:400]]
        out[d] = ([t for t, _ in rows], np.array([i for _, i in rows]))
    return out


def test_client_fit_on_raw_text(clinc, tmp_path):
    dock = Dock(tmp_path / "dock")
    for d, (texts, intents) in clinc.items():
        X = encode_text(texts[:200])
        est = LogisticRegression(max_iter=1000).fit(X, intents[:200])
        lw = Learnware.build(tmp_path / d, est, RKMESpec.fit(X, m=30), name=d, task_type="classification",
                             modality="text", classes=list(est.classes_), encoder=TEXT_ENCODER)
        dock.submit(lw, validate=False)
    texts, intents = clinc["travel"]
    model = Client(dock).fit(training_data=(texts[200:230], intents[200:230]), unlabelled_data=texts[230:300],
                             encoder=TEXT_ENCODER)
    assert model.chosen[0]["name"] == "travel"
    accuracy = np.mean(model.predict(texts[300:]) == intents[300:])
    assert accuracy > 0.85, model.explain()
    proba = model.predict_proba(texts[300:310])
    assert proba.shape == (10, len(model.classes_)) and np.allclose(proba.sum(1), 1)
    assert model.score(texts[300:], intents[300:]) == pytest.approx(accuracy)
