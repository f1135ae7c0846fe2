"""Per-record inputs shared by the recommenders: vocabularies, size buckets, hashed name tokens and
frozen MiniLM embeddings of model and dataset descriptions.

A recommender scores *pairs*: a frame with ``model, dataset, task, metric`` columns, plus the
metadata tables (``models``, ``datasets``; records.py formats) that describe them. Metadata is
known for entities that have no records yet (new models, new datasets), which is what cold-start
recommendation uses.
"""

from __future__ import annotations

import re
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from modelreuse.config import cache_home
from modelreuse.models.encoders import encode_text_cached

UNKNOWN = 0                    # index 0 of every vocabulary is the shared "unknown" entry
N_NAME_HASHES = 1 << 14
MAX_NAME_TOKENS = 12
SIZE_EDGES = np.arange(6.0, 12.51, 0.5)   # log10(params) bucket edges: 1M ... 3T, half-decade steps


def vocabulary(values) -> dict[str, int]:
    """Index 1.. for every distinct value in order of first appearance (0 is reserved for unknown)."""
    return {v: i + 1 for i, v in enumerate(pd.unique(pd.Series(list(values), dtype="string").dropna()))}


def lookup(vocab: dict[str, int], values) -> np.ndarray:
    return np.array([vocab.get(v, UNKNOWN) for v in values], dtype=np.int64)


def size_bucket(params) -> np.ndarray:
    """0 for unknown size, else 1 + the half-decade bucket of log10(params)."""
    params = np.asarray(params, dtype=np.float64)
    known = np.isfinite(params) & (params > 0)
    out = np.zeros(len(params), dtype=np.int64)
    out[known] = 1 + np.digitize(np.log10(params[known]), SIZE_EDGES)
    return out


N_SIZE_BUCKETS = len(SIZE_EDGES) + 2


def name_tokens(name: str) -> list[str]:
    """Lower-case pieces of a model name split on ``/ _ - . : space`` and letter/digit boundaries."""
    parts = re.split(r"[/_\-.:\s]+", str(name).lower())
    pieces = [p for part in parts for p in re.findall(r"[a-z]+|\d+", part)]
    return list(dict.fromkeys(parts + pieces))[:MAX_NAME_TOKENS] if any(parts) else []


def hashed_name_tokens(names) -> np.ndarray:
    """``(n, MAX_NAME_TOKENS)`` CRC32 hashes of the name tokens into 1..N_NAME_HASHES-1, 0-padded."""
    out = np.zeros((len(names), MAX_NAME_TOKENS), dtype=np.int64)
    for row, name in enumerate(names):
        hashes = [1 + zlib.crc32(t.encode()) % (N_NAME_HASHES - 1) for t in name_tokens(name)]
        out[row, :len(hashes)] = hashes
    return out


def model_texts(models: pd.DataFrame) -> list[str]:
    """The description of each model, or its name when it has none."""
    desc = models["description"].astype("string").fillna("").str.strip()
    return [d if d else str(m) for m, d in zip(models["model"], desc)]


def dataset_texts(datasets: pd.DataFrame) -> list[str]:
    """``<dataset> (<task>): <description>`` for each dataset."""
    return [f"{d} ({t}): {s}" if isinstance(s, str) and s.strip() else f"{d} ({t})"
            for d, t, s in zip(datasets["dataset"], datasets["task"].fillna(""), datasets["description"])]


DEFAULT_CACHE = "default"
"""The ``cache`` argument that stands for ``config.cache_home("recommend")``, looked up when texts are
encoded (so a constructor default stays a plain string and ``$MODELREUSE_CACHE`` set after import
counts)."""


@dataclass
class TextEmbeddings:
    """MiniLM embeddings of model and dataset texts, L2-normalised, cached on disk under ``cache``
    (a folder; None: no cache; :data:`DEFAULT_CACHE`: ``config.cache_home("recommend")``)."""

    cache: str | Path | None = DEFAULT_CACHE

    def models(self, models: pd.DataFrame) -> np.ndarray:
        return self._encode(model_texts(models))

    def datasets(self, datasets: pd.DataFrame) -> np.ndarray:
        return self._encode(dataset_texts(datasets))

    def _encode(self, texts: list[str]) -> np.ndarray:
        cache = cache_home("recommend") if isinstance(self.cache, str) and self.cache == DEFAULT_CACHE else self.cache
        emb = encode_text_cached(texts, cache).astype(np.float32)
        return emb / np.maximum(np.linalg.norm(emb, axis=1, keepdims=True), 1e-12)


def metadata_rows(table: pd.DataFrame, key: str, names) -> pd.DataFrame:
    """Rows of a metadata table for ``names`` in order; names without a row get an empty one."""
    indexed = table.drop_duplicates(key).set_index(key)
    rows = indexed.reindex(pd.Index(list(names), dtype="string"))
    return rows.rename_axis(key).reset_index()
