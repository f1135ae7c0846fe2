"""Small real feature-extraction learnwares for tests: TF-IDF -> SVD encoders fitted on samples of real
source corpora (../shared/data), each with its logistic-regression source head, built with
:meth:`Learnware.build_extractor` exactly as the text zoo's are (the zoo's own recipes fit on up to
15,000 documents and take minutes; these take about a second each)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from sklearn.decomposition import TruncatedSVD
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import Normalizer

from modelreuse.datasets.text import source_corpora, target_tasks
from modelreuse.dock import Dock
from modelreuse.learnware import Learnware
from tests.conftest import DATA

SOURCES = ("sms_spam", "tweet_emotion")
DIMS = (16, 64)


def text_pipeline(source: str, dim: int, rows: int = 1500) -> tuple[Pipeline, list[str]]:
    """The encoder + source head fitted on ``rows`` seeded documents of ``source``, and its classes."""
    texts, labels = source_corpora(DATA)[source]
    idx = np.random.default_rng(0).choice(len(texts), min(rows, len(texts)), replace=False)
    texts, labels = [texts[i] for i in idx], [labels[i] for i in idx]
    encoder = make_pipeline(TfidfVectorizer(min_df=2, max_features=5000, sublinear_tf=True),
                            TruncatedSVD(dim, random_state=0), Normalizer()).fit(texts)
    head = LogisticRegression(max_iter=500).fit(encoder.transform(texts), labels)
    return Pipeline([*encoder.steps, ("head", head)]), sorted(set(labels))


def text_extractor_packages(folder: Path, sources=SOURCES, dims=DIMS) -> list[Path]:
    """One package per (source, dim) under ``folder``."""
    paths = []
    for source in sources:
        for dim in dims:
            model, classes = text_pipeline(source, dim)
            paths.append(Learnware.build_extractor(folder / f"{source}-{dim}", model, name=f"{source}/svd{dim}",
                                                   modality="text", feature_size=dim, classes=classes,
                                                   source_data=source).root)
    return paths


def text_zoo(tmp_path_factory) -> Dock:
    """A dock holding :func:`text_extractor_packages` (submitted unvalidated: built here)."""
    dock = Dock(tmp_path_factory.mktemp("zoo"))
    dock.submit_many(text_extractor_packages(tmp_path_factory.mktemp("packages")), validate=False)
    return dock


def senteval_cr(train: int = 300, test: int = 600, seed: int = 0) -> tuple[list[str], np.ndarray, list[str], np.ndarray]:
    """Seeded disjoint train/test rows of SentEval CR (customer reviews, positive vs negative)."""
    texts, labels = target_tasks(DATA)["cr"]["all"]
    idx = np.random.default_rng(seed).permutation(len(texts))
    tr, te = idx[:train], idx[train:train + test]
    y = np.asarray(labels)
    return [texts[i] for i in tr], y[tr], [texts[i] for i in te], y[te]
