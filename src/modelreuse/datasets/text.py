"""Readers for the labelled text corpora in ``<data>/text`` (see each folder's MANIFEST.md).

Every reader returns ``(texts, labels)`` lists for one split; labels are strings or ints as
stored. Used by the transferability zoo (sources and targets) and nothing else.
"""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pandas as pd


def _lines(path: Path) -> list[str]:
    with gzip.open(path, "rt", encoding="utf-8", errors="replace") as f:
        return [line.rstrip("\n") for line in f]


def label_first(path: Path) -> tuple[list[str], list[str]]:
    """SentEval files: ``<label> <text>`` per line."""
    pairs = [line.split(" ", 1) for line in _lines(path) if line.strip()]
    return [p[1] if len(p) > 1 else "" for p in pairs], [p[0] for p in pairs]


def tweeteval(folder: Path, split: str = "train") -> tuple[list[str], list[str]]:
    """TweetEval task folder with ``<split>_text.txt.gz`` and ``<split>_labels.txt.gz``."""
    texts, labels = _lines(folder / f"{split}_text.txt.gz"), _lines(folder / f"{split}_labels.txt.gz")
    if len(texts) != len(labels):
        raise ValueError(f"{folder}: {len(texts)} texts but {len(labels)} labels in split {split}")
    return texts, labels


def ag_news(root: Path) -> tuple[list[str], list[str]]:
    table = pd.read_csv(root / "ag_news_test" / "test.csv.gz")
    return (table["title"] + ". " + table["description"]).tolist(), table["label"].astype(str).tolist()


def banking77(root: Path) -> tuple[list[str], list[str]]:
    table = pd.read_csv(root / "banking77" / "train.csv.gz")
    return table["text"].tolist(), table["category"].tolist()


def clinc150(root: Path) -> tuple[list[str], list[str]]:
    with gzip.open(root / "clinc150" / "data_full.json.gz", "rt") as f:
        rows = json.load(f)["train"]
    return [r[0] for r in rows], [r[1] for r in rows]


def sms_spam(root: Path) -> tuple[list[str], list[str]]:
    pairs = [line.split("\t", 1) for line in _lines(root / "sms_spam" / "SMSSpamCollection.gz")[1:] if "\t" in line]
    return [p[1] for p in pairs], [p[0] for p in pairs]


def source_corpora(data_root: str | Path) -> dict[str, tuple[list[str], list[str]]]:
    """The labelled corpora the text zoo's models are trained on (never used as targets)."""
    root = Path(data_root) / "text"
    corpora = {"ag_news": ag_news(root), "banking77": banking77(root), "clinc150": clinc150(root),
               "sms_spam": sms_spam(root)}
    for task in ("emoji", "emotion", "hate", "irony", "offensive"):
        corpora[f"tweet_{task}"] = tweeteval(root / "tweeteval" / task)
    return corpora


def target_tasks(data_root: str | Path) -> dict[str, dict[str, tuple[list[str], list[str]]]]:
    """Target tasks with ``train``/``test`` splits: SentEval (official splits where they exist,
    else a fixed 70/30 split made by the caller) and the five TweetEval stance topics."""
    root = Path(data_root) / "text"
    sent = root / "senteval"
    tasks: dict = {}
    for name, file in (("mr", "rt-polarity.all"), ("cr", "custrev.all"), ("subj", "subj.all"), ("mpqa", "mpqa.all")):
        tasks[name] = {"all": label_first(sent / f"{file}.gz")}
    tasks["trec"] = {"train": label_first(sent / "TREC.train.all.gz"), "test": label_first(sent / "TREC.test.all.gz")}
    tasks["sst2"] = {"train": label_first(sent / "stsa.binary.train.gz"), "test": label_first(sent / "stsa.binary.test.gz")}
    tasks["sst5"] = {"train": label_first(sent / "stsa.fine.train.gz"), "test": label_first(sent / "stsa.fine.test.gz")}
    for topic in ("abortion", "atheism", "climate", "feminist", "hillary"):
        folder = root / "tweeteval" / "stance" / topic
        tasks[f"stance_{topic}"] = {"train": tweeteval(folder, "train"), "test": tweeteval(folder, "test")}
    return tasks
