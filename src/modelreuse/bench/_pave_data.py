"""The PAVE benchmark's datasets: real corpora from ``<data>/text`` and ``<data>/image``, each with
a train and a test split, and the per-dataset developer / user / test split of the paper's
protocol (appendix C.3).

Splits of the corpora (:data:`TEXT_DATASETS`, :data:`IMAGE_DATASETS`):

* official train/test splits where the corpus has them (TREC, SST-2, SST-5, TweetEval, Banking77,
  CLINC150 in-scope intents, 20 Newsgroups ``bydate``; a validation split is merged into train, as
  the paper does);
* a seeded stratified 70/30 train/test split where it has one file only (SentEval CR, MPQA, MR,
  SUBJ; SMS spam; AG News, whose staged copy is the official test split only);
* image subtasks: MNIST, Fashion-MNIST and CIFAR-10, each cut into three disjoint groups of
  classes (0-3, 4-6, 7-9), official train/test splits restricted to the group.

:func:`split_users` then takes ``shots`` rows per class of the train split for the user (the k-shot
task) and gives the rest to the developer; the test split scores everything.
"""

from __future__ import annotations

import gzip
import json
import tarfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from modelreuse.datasets import images, text
from modelreuse.errors import InvalidTaskDataError


@dataclass
class Corpus:
    """One dataset of the benchmark: inputs (texts or uint8 images) and int labels ``0..C-1``."""

    name: str
    modality: str
    X_train: Any
    y_train: np.ndarray
    X_test: Any
    y_test: np.ndarray
    classes: list[str]
    split: str

    @property
    def n_classes(self) -> int:
        return len(self.classes)


@dataclass
class UserSplit:
    """Row indices of the protocol: ``user`` (k shots per class, from train), ``developer`` (the
    rest of train, at most ``max_developer`` rows, stratified), ``test`` (at most ``max_test``)."""

    user: np.ndarray
    developer: np.ndarray
    test: np.ndarray


def take(X: Any, rows: np.ndarray) -> Any:
    """Rows of a list of texts or of an array."""
    return [X[i] for i in rows] if isinstance(X, list) else X[rows]


def split_users(corpus: Corpus, shots: int, seed: int, max_developer: int, max_test: int) -> UserSplit:
    """The user's ``shots`` rows per class and the developer's rows of ``corpus``'s train split,
    and the test rows (module doc); seeded, every class kept in every part."""
    rng = np.random.default_rng(seed)
    user, rest = [], []
    for c in range(corpus.n_classes):
        rows = rng.permutation(np.flatnonzero(corpus.y_train == c))
        if len(rows) <= shots:
            raise InvalidTaskDataError(f"{corpus.name}: class {corpus.classes[c]!r} has {len(rows)} training rows, "
                                       f"needs more than {shots} (the user's shots plus developer rows)")
        user.append(rows[:shots])
        rest.append(rows[shots:])
    developer = _stratified_cap(np.concatenate(rest), corpus.y_train, max_developer, rng)
    test = _stratified_cap(np.arange(len(corpus.y_test)), corpus.y_test, max_test, rng)
    return UserSplit(np.concatenate(user), developer, test)


def _stratified_cap(rows: np.ndarray, y: np.ndarray, cap: int, rng: np.random.Generator) -> np.ndarray:
    """``rows`` if at most ``cap``, else a stratified sample of ``cap`` of them (sorted)."""
    if len(rows) <= cap:
        return np.sort(rows)
    from sklearn.model_selection import train_test_split

    kept, _ = train_test_split(rows, train_size=cap, stratify=y[rows], random_state=int(rng.integers(2**31)))
    return np.sort(kept)


# ---------------------------------------------------------------------------------------------- text
def _encoded(name: str, split: str, train: tuple[list, list], test: tuple[list, list]) -> Corpus:
    """A text corpus with labels coded 0..C-1 in sorted order of the stored labels."""
    classes = sorted(set(train[1]) | set(test[1]), key=_natural)
    code = {c: i for i, c in enumerate(classes)}
    return Corpus(name, "text", list(train[0]), np.array([code[c] for c in train[1]]),
                  list(test[0]), np.array([code[c] for c in test[1]]), [str(c) for c in classes], split)


def _natural(label: object) -> tuple:
    s = str(label)
    return (0, int(s), "") if s.lstrip("-").isdigit() else (1, 0, s)


def _one_file(name: str, pairs: tuple[list, list], seed: int) -> Corpus:
    from sklearn.model_selection import train_test_split

    X_tr, X_te, y_tr, y_te = train_test_split(pairs[0], pairs[1], test_size=0.3, stratify=pairs[1], random_state=seed)
    return _encoded(name, "seeded stratified 70/30 split of the only file", (X_tr, y_tr), (X_te, y_te))


def _merged(*parts: tuple[list, list]) -> tuple[list, list]:
    return [t for p in parts for t in p[0]], [y for p in parts for y in p[1]]


def _senteval(file: str) -> Callable[[Path, int], Corpus]:
    return lambda root, seed: _one_file(_SENTEVAL_NAMES[file], text.label_first(root / "text" / "senteval" / file), seed)


_SENTEVAL_NAMES = {"custrev.all.gz": "cr", "mpqa.all.gz": "mpqa", "rt-polarity.all.gz": "mr", "subj.all.gz": "subj"}


def _senteval_official(name: str, train: tuple[str, ...], test: str) -> Callable[[Path, int], Corpus]:
    def load(root: Path, seed: int) -> Corpus:
        folder = root / "text" / "senteval"
        return _encoded(name, "official train (+dev)/test", _merged(*(text.label_first(folder / f) for f in train)),
                        text.label_first(folder / test))
    return load


def _tweeteval(task: str) -> Callable[[Path, int], Corpus]:
    def load(root: Path, seed: int) -> Corpus:
        folder = root / "text" / "tweeteval" / task
        return _encoded(f"tweet_{task}", "official train (+val)/test",
                        _merged(text.tweeteval(folder, "train"), text.tweeteval(folder, "val")),
                        text.tweeteval(folder, "test"))
    return load


def _banking77(root: Path, seed: int) -> Corpus:
    import pandas as pd

    test = pd.read_csv(root / "text" / "banking77" / "test.csv.gz")
    return _encoded("banking77", "official train/test", text.banking77(root / "text"),
                    (test["text"].tolist(), test["category"].tolist()))


def _clinc150(root: Path, seed: int) -> Corpus:
    with gzip.open(root / "text" / "clinc150" / "data_full.json.gz", "rt") as f:
        data = json.load(f)
    pairs = {split: ([r[0] for r in data[split]], [r[1] for r in data[split]]) for split in ("train", "val", "test")}
    return _encoded("clinc150", "official train (+val)/test, 150 in-scope intents",
                    _merged(pairs["train"], pairs["val"]), pairs["test"])


def _newsgroups(root: Path, seed: int) -> Corpus:
    """20 Newsgroups ``bydate``: message bodies (headers dropped, as scikit-learn's
    ``remove=("headers",)``: they name the group), first 2,000 characters."""
    splits: dict[str, tuple[list, list]] = {"train": ([], []), "test": ([], [])}
    with tarfile.open(root / "text" / "20newsgroups" / "20news-bydate.tar.gz") as tar:
        for member in tar:
            parts = member.name.split("/")
            if not member.isfile() or len(parts) != 3 or not parts[0].startswith("20news-bydate-"):
                continue
            raw = tar.extractfile(member).read().decode("latin-1")
            body = raw.split("\n\n", 1)[1] if "\n\n" in raw else raw
            split = splits[parts[0].removeprefix("20news-bydate-")]
            split[0].append(" ".join(body.split())[:2000])
            split[1].append(parts[1])
    return _encoded("20newsgroups", "official bydate train/test", splits["train"], splits["test"])


TEXT_DATASETS: dict[str, Callable[[Path, int], Corpus]] = {
    "cr": _senteval("custrev.all.gz"),
    "mpqa": _senteval("mpqa.all.gz"),
    "mr": _senteval("rt-polarity.all.gz"),
    "subj": _senteval("subj.all.gz"),
    "trec": _senteval_official("trec", ("TREC.train.all.gz",), "TREC.test.all.gz"),
    "sst2": _senteval_official("sst2", ("stsa.binary.train.gz", "stsa.binary.dev.gz"), "stsa.binary.test.gz"),
    "sst5": _senteval_official("sst5", ("stsa.fine.train.gz", "stsa.fine.dev.gz"), "stsa.fine.test.gz"),
    **{f"tweet_{t}": _tweeteval(t) for t in ("emoji", "emotion", "hate", "irony", "offensive")},
    "banking77": _banking77,
    "clinc150": _clinc150,
    "ag_news": lambda root, seed: _one_file("ag_news", text.ag_news(root / "text"), seed),
    "sms_spam": lambda root, seed: _one_file("sms_spam", text.sms_spam(root / "text"), seed),
    "20newsgroups": _newsgroups,
}

# --------------------------------------------------------------------------------------------- image
IMAGE_GROUPS = ((0, 1, 2, 3), (4, 5, 6), (7, 8, 9))


def _image_subtask(dataset: str, group: tuple[int, ...]) -> Callable[[Path, int], Corpus]:
    def load(root: Path, seed: int) -> Corpus:
        parts = {}
        for split in ("train", "test"):
            labels = images.load_split(dataset, root, split)[1] if dataset != "cifar10" else _cifar_labels(root, split)
            rows = np.flatnonzero(np.isin(labels, group))
            X, y = images.load_split(dataset, root, split, rows)
            parts[split] = (X, np.searchsorted(np.array(group), y))
        names = [images.CLASS_NAMES[dataset][c] for c in group]
        return Corpus(f"{dataset}_{group[0]}-{group[-1]}", "image", parts["train"][0], parts["train"][1],
                      parts["test"][0], parts["test"][1], names, "official train/test, classes of the group")
    return load


def _cifar_labels(root: Path, split: str) -> np.ndarray:
    """CIFAR-10 labels without decoding the images."""
    with np.load(Path(root) / "image" / "cifar10" / "cifar10_jpeg_packed.npz", allow_pickle=False) as d:
        return d[f"{split}_labels"].astype(np.int64)


IMAGE_DATASETS: dict[str, Callable[[Path, int], Corpus]] = {
    f"{d}_{g[0]}-{g[-1]}": _image_subtask(d, g) for d in ("mnist", "fashion_mnist", "cifar10") for g in IMAGE_GROUPS}

DATASETS = {"text": TEXT_DATASETS, "image": IMAGE_DATASETS}


def load_corpus(modality: str, name: str, data_root: str | Path, seed: int = 0) -> Corpus:
    """The corpus ``name`` of ``modality`` (``text`` | ``image``); :class:`InvalidTaskDataError`
    for an unknown one."""
    known = DATASETS.get(modality)
    if known is None:
        raise InvalidTaskDataError(f"--modality must be text or image, got {modality!r}")
    if name not in known:
        raise InvalidTaskDataError(f"unknown {modality} dataset {name!r}; choose from {', '.join(known)}")
    return known[name](Path(data_root), seed)
