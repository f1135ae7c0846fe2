"""Client.fit on raw text chooses PAVE when the dock's text learnwares carry it, RKME otherwise,
and says which: learnwares over MiniLM embeddings, one per CLINC150 domain, with real PAVE model
vectors (PAVESpec.fit_model on the dock's base) and RKMEs; the user's few labelled rows of one
domain."""

import gzip
import json

import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression

from modelreuse import Client
from modelreuse.dock import Dock
from modelreuse.learnware import Learnware
from modelreuse.models.encoders import TEXT_ENCODER, encode_text
from modelreuse.specs.pave import PAVESpec
from modelreuse.specs.pave_base import PAVEBase
from modelreuse.specs.rkme import RKMESpec

DOMAINS = ("banking", "travel", "kitchen_and_dining")
DEV = 200
MODEL_STEPS = 20
PAVE_ROWS = 96


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


@pytest.fixture(scope="module")
def learnwares(clinc, tmp_path_factory):
    """Per domain: a classifier of its intents over MiniLM embeddings, with its RKME and (second
    package) also its PAVE model vector on the dock's text base."""
    root = tmp_path_factory.mktemp("clinc-learnwares")
    base = PAVEBase.create("text")  # the base every dock publishes (Dock.pave_base)
    built = {"rkme": [], "both": []}
    for d, (texts, intents) in clinc.items():
        X = encode_text(texts[:DEV])
        est = LogisticRegression(max_iter=1000).fit(X, intents[:DEV])
        pave = PAVESpec.fit_model(est, texts[:PAVE_ROWS], base, encoder=TEXT_ENCODER, steps=MODEL_STEPS)
        for kind, specs in (("rkme", []), ("both", [pave])):
            built[kind].append(Learnware.build(root / kind / d, est, RKMESpec.fit(X, m=30), specs=specs, name=d,
                                               task_type="classification", modality="text",
                                               classes=list(est.classes_), encoder=TEXT_ENCODER))
    return built


def test_fit_uses_pave_when_the_learnwares_carry_it(clinc, learnwares, tmp_path):
    dock = Dock(tmp_path / "dock")
    dock.submit_many(learnwares["both"], validate=False)
    texts, intents = clinc["travel"]
    model = Client(dock).fit(training_data=(texts[DEV:300], intents[DEV:300]), encoder=TEXT_ENCODER)
    assert model.ranking.method == "parameter"
    assert "search: PAVE" in model.explain() and dock.pave_base("text").id[:12] in model.explain()
    assert model.chosen[0]["name"] == "travel" and "cosine" in model.chosen[0]["reason"]
    assert [e.name for e in model.ranking][0] == "travel"
    accuracy = np.mean(model.predict(texts[300:]) == intents[300:])
    assert accuracy > 0.8, model.explain()


def test_fit_uses_rkme_otherwise_and_says_why(clinc, learnwares, tmp_path):
    dock = Dock(tmp_path / "dock")
    dock.submit_many(learnwares["rkme"], validate=False)
    texts, intents = clinc["travel"]
    model = Client(dock).fit(training_data=(texts[DEV:260], intents[DEV:260]), unlabelled_data=texts[260:300],
                             encoder=TEXT_ENCODER)
    assert model.ranking.method == "statistical" and model.chosen[0]["name"] == "travel"
    assert "PAVE not used: no text learnware in the dock carries a PAVE spec" in model.explain()
