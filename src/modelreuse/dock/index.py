"""The dock's persisted RKME index: one :class:`~modelreuse.specs.rkme_index.RKMEIndex` per
feature space, kept under ``<root>/index`` so a new process searches without reading every
learnware's package.

Layout. ``index/manifest.json`` names, per feature space key, the folder holding that space's
arrays, the dock revision they were written at, and their sizes (``n`` learnwares, ``m`` points of
width ``d``). A folder holds one ``.npy`` file per array (:data:`ARRAYS`: ids, stacked reduced
sets, weights, segment starts, row counts, per-spec scales and gammas, embeddings) and, for spaces
of at least :data:`~modelreuse.specs.rkme_index.EXACT_BELOW` learnwares, ``faiss.index`` (the
HNSW graph, FAISS's own format; its SHA-256 is in the manifest). The rows are the space's
learnwares with an RKME spec in dock order (``created_at``, then id).

Writes. A change writes a new folder for the one space it touches, then replaces the manifest
atomically (temporary file + ``os.replace``, under the dock lock); the old folder is deleted after
(open memory maps of it stay valid). Submit appends (:meth:`RKMEIndex.extended`, only the new
specs are read), remove compacts (:meth:`RKMEIndex.removed`, no spec is read), and a space whose
order no longer matches is rebuilt alone.

Reads. Arrays are opened with ``np.load(mmap_mode="r", allow_pickle=False)``, so a file holding
objects (a pickle) is refused, never run. A space whose entry names another revision is brought up
to date by comparing its ids with the dock's (append and compact as above); a missing manifest or
folder, a truncated file, a wrong dtype or shape, inconsistent segment offsets or a FAISS file whose
hash differs make that space be rebuilt from the store. A write that fails (read-only or full
disk) warns with :class:`IndexWriteWarning` and leaves the in-memory index in use. Nothing read from the index is trusted
beyond these checks: it is the dock's derived data, never part of a package.
"""

from __future__ import annotations

import json
import os
import shutil
import uuid
import warnings
from collections.abc import Callable
from pathlib import Path

import numpy as np

from modelreuse.dock.artifacts import sha256_of
from modelreuse.dock.locking import DockLock
from modelreuse.specs.rkme import RKMESpec
from modelreuse.specs.rkme_index import EMBED_DIM, RKMEIndex

FORMAT = 1
INDEX_DIR = "index"
MANIFEST = "manifest.json"
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

class IndexWriteWarning(UserWarning):
    """The persisted index could not be written; searches still work from memory."""


Members = Callable[[], tuple[int, dict[str, list[str]]]]
SpecLoader = Callable[[list[str]], list[RKMESpec]]


class DockIndex:
    """The persisted index of one dock (module doc).

    Args:
        root: the dock's folder (the index lives in ``root/index``).
        lock: the dock's lock (manifest updates run under it).
        members: ``members()`` -> ``(revision, {space: ids})``: the dock revision and, per feature
            space, the ids of its learnwares with an RKME spec in dock order; the revision is read
            before the ids.
        load_specs: ``load_specs(ids)`` -> their RKME specs (read only for learnwares being added).
    """

    def __init__(self, root: Path, lock: DockLock, members: Members, load_specs: SpecLoader):
        self.folder = Path(root) / INDEX_DIR
        self._lock = lock
        self._members = members
        self._load_specs = load_specs
        self._memory: dict[str, tuple[int, RKMEIndex]] = {}

    def get(self, space: str) -> RKMEIndex | None:
        """The up-to-date index of ``space`` (None when no learnware there has an RKME); loaded
        once per revision, brought up to date and written back when stale, missing or corrupt."""
        revision, spaces = self._members()
        return self._current(space, revision, spaces.get(space, []))

    def refresh(self, spaces: set[str]) -> None:
        """Bring the persisted ``spaces`` up to date after a submit or remove (spaces without an
        entry yet are left for the first search to build)."""
        revision, members = self._members()
        entries = self._manifest()
        for space in spaces:
            if space in entries:
                self._current(space, revision, members.get(space, []))

    def rebuild(self) -> None:
        """Delete the persisted index and build every space from the store."""
        with self._lock:
            shutil.rmtree(self.folder, ignore_errors=True)
        self._memory.clear()
        revision, members = self._members()
        for space, ids in members.items():
            self._current(space, revision, ids)

    def unreferenced(self) -> list[Path]:
        """Folders and temporary files under the index folder that its manifest does not name (left
        by a crash between writing a folder and replacing the manifest); call under the dock lock."""
        if not self.folder.is_dir():
            return []
        named = {entry["folder"] for entry in self._manifest().values()} | {MANIFEST}
        return sorted(p for p in self.folder.iterdir() if p.name not in named)

    # ------------------------------------------------------------------ internals
    def _current(self, space: str, revision: int, ids: list[str]) -> RKMEIndex | None:
        memo = self._memory.get(space)
        if memo is not None and memo[0] == revision:
            return memo[1]
        entry = self._manifest().get(space)
        index = None if entry is None else _load(self.folder, entry)
        if index is not None and entry["revision"] == revision:
            self._memory[space] = (revision, index)
            return index
        updated = self._synced(index, ids)
        if updated is None and entry is None:
            return None
        if updated is not index or entry is None or entry["revision"] != revision:
            self._try_write(space, updated, revision, same_arrays=updated is index)
        if updated is not None:
            self._memory[space] = (revision, updated)
        return updated

    def _synced(self, index: RKMEIndex | None, ids: list[str]) -> RKMEIndex | None:
        """``index`` brought to the learnwares ``ids`` (in dock order): compacted and appended,
        or built from the store when the order differs."""
        if not ids:
            return None
        if index is not None:
            present = set(ids)
            gone = {lid for lid in index.ids if lid not in present}
            if gone:
                index = index.removed(gone) if len(gone) < len(index) else None
        if index is not None and ids[:len(index)] == index.ids:
            new = ids[len(index):]
            return index.extended(new, self._load_specs(new)) if new else index
        return RKMEIndex.build(ids, self._load_specs(ids))

    def _try_write(self, space: str, index: RKMEIndex | None, revision: int, same_arrays: bool) -> None:
        """:meth:`_write`, but a failed write (read-only or full disk) only warns: the index is
        derived data, the in-memory copy serves this process, and the next process rebuilds it.
        A submit or remove that already committed therefore never fails because of its index."""
        try:
            self._write(space, index, revision, same_arrays)
        except OSError as exc:
            warnings.warn(f"could not write the dock's search index under {self.folder} ({exc}); searches use an "
                          "in-memory index, rebuilt by each new process", IndexWriteWarning, stacklevel=3)

    def _write(self, space: str, index: RKMEIndex | None, revision: int, same_arrays: bool) -> None:
        """Point the manifest at ``index`` for ``space`` (a new folder unless ``same_arrays``), or
        drop the space when ``index`` is None."""
        with self._lock:
            entries = self._manifest()
            old = entries.get(space)
            if index is None:
                entries.pop(space, None)
            elif same_arrays and old is not None:
                entries[space] = {**old, "revision": revision}
            else:
                entries[space] = _save(self.folder, index, revision)
            _replace_json(self.folder / MANIFEST, {"format": FORMAT, "spaces": entries})
            if old is not None and old["folder"] != entries.get(space, {}).get("folder"):
                shutil.rmtree(self.folder / old["folder"], ignore_errors=True)

    def _manifest(self) -> dict[str, dict]:
        """The manifest's entries; empty when it is missing or not a manifest of this format."""
        try:
            data = json.loads((self.folder / MANIFEST).read_text())
            spaces = data["spaces"] if data.get("format") == FORMAT else {}
            return {str(k): v for k, v in spaces.items() if _entry_ok(v)}
        except (OSError, ValueError, KeyError, TypeError, AttributeError):
            return {}


def _entry_ok(entry: object) -> bool:
    return (isinstance(entry, dict) and isinstance(entry.get("folder"), str) and "/" not in entry["folder"]
            and not entry["folder"].startswith(".") and all(isinstance(entry.get(k), int) for k in ("revision", "n", "m", "d")))


def _save(folder: Path, index: RKMEIndex, revision: int) -> dict:
    """Write ``index``'s arrays into a new folder under ``folder``; its manifest entry."""
    name = uuid.uuid4().hex
    target = folder / name
    target.mkdir(parents=True)
    arrays = {"ids": np.array(index.ids, dtype=str), **{k: getattr(index, k) for k in ARRAYS if k != "ids"}}
    for key, (dtype, _) in ARRAYS.items():
        np.save(target / f"{key}.npy", np.ascontiguousarray(arrays[key], dtype=None if dtype == "U" else dtype),
                allow_pickle=False)
    entry = {"folder": name, "revision": revision, "n": len(index), "m": int(index.points.shape[0]),
             "d": int(index.points.shape[1]), "faiss_sha256": None}
    if index.faiss_index is not None:
        import faiss

        faiss.write_index(index.faiss_index, str(target / FAISS_FILE))
        entry["faiss_sha256"] = sha256_of(target / FAISS_FILE)
    return entry


def _load(folder: Path, entry: dict) -> RKMEIndex | None:
    """The index an entry names, memory-mapped, or None when anything fails a check (module doc)."""
    sizes = {"n": entry["n"], "m": entry["m"], "d": entry["d"], "n+1": entry["n"] + 1}
    arrays = {}
    try:
        for key, (dtype, shape) in ARRAYS.items():
            array = np.load(folder / entry["folder"] / f"{key}.npy", mmap_mode="r", allow_pickle=False)
            kind_ok = array.dtype.kind == "U" if dtype == "U" else array.dtype == np.dtype(dtype)
            if not kind_ok or array.shape != tuple(sizes.get(s, s) for s in shape):
                return None
            arrays[key] = array
        starts = np.array(arrays["starts"])
        if starts[0] != 0 or starts[-1] != entry["m"] or np.any(np.diff(starts) < 1):
            return None
        small = {k: np.array(arrays[k]) for k in ("counts", "scales", "gammas")}
        if not all(np.all(np.isfinite(v)) for v in small.values()) or np.any(small["scales"] <= 0):
            return None
        graph = _faiss(folder / entry["folder"] / FAISS_FILE, entry.get("faiss_sha256"))
        if entry.get("faiss_sha256") and graph is None:
            return None
        return RKMEIndex.from_arrays([str(i) for i in arrays["ids"]], points=arrays["points"],
                                     weights=arrays["weights"], starts=starts, embeddings=arrays["embeddings"],
                                     faiss_index=graph, exact_below=entry["n"] + 1 if graph is None else 0, **small)
    except (OSError, ValueError, EOFError):
        return None


def _faiss(path: Path, sha256: str | None):
    """The FAISS graph at ``path`` if its SHA-256 is the recorded one, else None."""
    if not sha256:
        return None
    try:
        if sha256_of(path) != sha256:
            return None
        import faiss

        return faiss.read_index(str(path))
    except (OSError, RuntimeError):
        return None


def _replace_json(path: Path, data: dict) -> None:
    """Write ``data`` to ``path`` atomically (temporary sibling, fsync, ``os.replace``)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")
    with open(tmp, "w") as f:
        json.dump(data, f)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)
