"""``modelreuse zoo build --preset text --limit 1``: the text zoo's first candidate (word n-gram TF-IDF ->
SVD 128 fitted on real AG News, with its source head) published as a feature-extraction learnware,
validated in the sandbox; its vocabulary is stored as an array, so saving takes seconds."""

from __future__ import annotations

from modelreuse.dock import Dock
from tests.cli.conftest import cli_json
from tests.conftest import DATA


def test_zoo_build_text_limit_1_publishes_the_first_tfidf_encoder(tmp_path):
    report = cli_json("zoo", "build", "--preset", "text", "--out", tmp_path / "dock", "--limit", 1, "--data", DATA,
                      "--cache", tmp_path / "cache")
    assert [(c["name"], c["modality"], c["n_features"]) for c in report["learnwares"]] == \
        [("ag_news/word128", "text", 128)]
    dock = Dock(tmp_path / "dock", create=False)
    m = dock.get(report["learnwares"][0]["id"]).manifest
    assert (m.input_schema.takes, m.input_schema.encoder, m.artifact.format, len(m.output.classes)) == \
        ("text", None, "skops", 4)
    assert "source:ag_news" in m.tags
    features = dock.load_model(report["learnwares"][0]["id"]).features(["a plain sentence", "stocks fell today"])
    assert features.shape == (2, 128)


def test_compact_vocabularies_transform_identically_and_load_without_trust(tmp_path):
    import numpy as np

    from modelreuse.models.extractors import compact_vocabularies
    from modelreuse.models.persistence import load_model, save_model
    from tests.zoo.extractors import senteval_cr, text_pipeline

    model, _ = text_pipeline("sms_spam", 16, rows=600)
    compact = compact_vocabularies(model)
    assert isinstance(compact[0].vocabulary, np.ndarray) and not hasattr(compact[0], "vocabulary_")
    assert hasattr(model[0], "vocabulary_")  # the original is left as it was
    texts = senteval_cr(train=100, test=0)[0]
    loaded = load_model(tmp_path, save_model(compact, tmp_path))
    np.testing.assert_array_equal(loaded[:-1].transform(texts), model[:-1].transform(texts))
    np.testing.assert_array_equal(loaded.predict_proba(texts), model.predict_proba(texts))
