"""The dock's persisted RKME index: one :class:`~modelreuse.specs.rkme_index.RKMEIndex` per
feature space, kept under ``<root>/index`` so a new process searches without reading every
learnware's package. Files, revisions, incremental updates and rebuilds are those of every
persisted index (:mod:`modelreuse.dock._index_files`); this module says what one space's folder
holds.

A space's entry in ``index/manifest.json`` gives its sizes (``n`` learnwares, ``m`` points of
width ``d``). Its folder holds one ``.npy`` file per array (:data:`ARRAYS`: ids, stacked reduced
sets, weights, segment starts, row counts, per-spec scales and gammas, embeddings) and, for spaces
of at least :data:`~modelreuse.specs.rkme_index.EXACT_BELOW` learnwares, ``faiss.index`` (the
HNSW graph, FAISS's own format; its SHA-256 is in the manifest, and a file whose hash differs is
never given to FAISS). The rows are the space's learnwares with an RKME spec in dock order. Besides
the shared checks, inconsistent segment offsets and non-finite or non-positive scales make a space
be rebuilt from the store.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from modelreuse.dock._index_files import (
    IndexWriteWarning,
    PersistedIndexes,
    load_arrays,
    read_faiss,
    save_arrays,
    write_faiss,
)
from modelreuse.specs.rkme import RKMESpec
from modelreuse.specs.rkme_index import EMBED_DIM, RKMEIndex

__all__ = ["ARRAYS", "DockIndex", "IndexWriteWarning"]

FAISS_FILE = "faiss.index"
#: array name -> (dtype kind, expected shape in terms of n, m, d)
ARRAYS = {
    "ids": ("U", ("n",)),
    "points": ("f8", ("m", "d")),
    "weights": ("f8", ("m",)),
    "starts": ("i8", ("n+1",)),
    "counts": ("f8", ("n",)),
    "scales": ("f8", ("n", "d")),
    "gammas": ("f8", ("n",)),
    "embeddings": ("f4", ("n", EMBED_DIM)),
}


class DockIndex(PersistedIndexes[RKMEIndex]):
    """The persisted RKME index of one dock, one per feature space (module doc).

    Args:
        root: the dock's folder (the index lives in ``root/index``).
        lock: the dock's lock (manifest updates run under it).
        members: ``members()`` -> ``(revision, {space: ids})``: the dock revision and, per feature
            space, the ids of its learnwares with an RKME spec in dock order; the revision is read
            before the ids.
        load_specs: ``load_specs(ids)`` -> their RKME specs (read only for learnwares being added).
    """

    FOLDER = "index"
    FORMAT = 1
    SECTION = "spaces"
    SIZES = ("n", "m", "d")

    def build(self, ids: list[str], specs: list[RKMESpec]) -> RKMEIndex:
        return RKMEIndex.build(ids, specs)

    def save(self, target: Path, index: RKMEIndex) -> dict:
        return _save(target, index)

    def load(self, target: Path, entry: dict) -> RKMEIndex | None:
        return _load(target, entry)


def _save(target: Path, index: RKMEIndex) -> dict:
    """Write ``index``'s arrays (and FAISS graph) into ``target``; its manifest entry's sizes."""
    arrays = {"ids": np.array(index.ids, dtype=str), **{k: getattr(index, k) for k in ARRAYS if k != "ids"}}
    save_arrays(target, arrays, ARRAYS)
    sha = None if index.faiss_index is None else write_faiss(index.faiss_index, target / FAISS_FILE)
    return {"n": len(index), "m": int(index.points.shape[0]), "d": int(index.points.shape[1]), "faiss_sha256": sha}


def _load(target: Path, entry: dict) -> RKMEIndex | None:
    """The index an entry names, memory-mapped, or None when anything fails a check (module doc)."""
    sizes = {"n": entry["n"], "m": entry["m"], "d": entry["d"], "n+1": entry["n"] + 1}
    arrays = load_arrays(target, ARRAYS, sizes)
    if arrays is None:
        return None
    starts = np.array(arrays["starts"])
    if starts[0] != 0 or starts[-1] != entry["m"] or np.any(np.diff(starts) < 1):
        return None
    small = {k: np.array(arrays[k]) for k in ("counts", "scales", "gammas")}
    if not all(np.all(np.isfinite(v)) for v in small.values()) or np.any(small["scales"] <= 0):
        return None
    graph = read_faiss(target / FAISS_FILE, entry.get("faiss_sha256"))
    if entry.get("faiss_sha256") and graph is None:
        return None
    return RKMEIndex.from_arrays([str(i) for i in arrays["ids"]], points=arrays["points"],
                                 weights=arrays["weights"], starts=starts, embeddings=arrays["embeddings"],
                                 faiss_index=graph, exact_below=entry["n"] + 1 if graph is None else 0, **small)
