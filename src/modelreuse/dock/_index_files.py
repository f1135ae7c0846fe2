"""What the dock's persisted search indexes share: per-key indexes kept as files under one folder
of the dock root, versioned by the dock revision, updated incrementally and rebuilt when damaged.

Used by the RKME index (:mod:`modelreuse.dock.index`, one index per feature space) and the PAVE
index (:mod:`modelreuse.dock.pave_index`, one per modality). A subclass of
:class:`PersistedIndexes` says how to build an index from specs and how to write and read one
folder; everything else is here:

Layout. ``<folder>/manifest.json`` names, per key, the sub-folder holding that key's files, the
dock revision they were written at, and their sizes. The rows of a key are its learnwares in dock
order (``created_at``, then id).

Writes. A change writes a new sub-folder for the one key it touches, then replaces the manifest
atomically (temporary file, fsync, ``os.replace``, under the dock lock); the old sub-folder is
deleted after (open memory maps of it stay valid). Submit appends (``index.extended``: only the new
specs are read), remove compacts (``index.removed``: no spec is read), and a key whose order no
longer matches the dock's is rebuilt alone. A write that fails (read-only or full disk) warns with
:class:`IndexWriteWarning` and leaves the in-memory index in use: the index is derived data, so a
submit or remove that committed never fails because of it.

Reads. Arrays are ``.npy`` files opened with ``np.load(mmap_mode="r", allow_pickle=False)``
(:func:`load_arrays`), so a file holding objects (a pickle) is refused, never run. A key whose
entry names another revision is brought up to date by comparing its ids with the dock's; a missing
manifest or sub-folder, a truncated file, a wrong dtype or shape, or anything else the subclass's
reader refuses makes that key be rebuilt from the store. Nothing read from an index is trusted
beyond these checks: it is the dock's derived data, never part of a package.
"""

from __future__ import annotations

import json
import os
import shutil
import uuid
import warnings
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, Generic, Protocol, TypeVar

import numpy as np

from modelreuse.dock.artifacts import sha256_of
from modelreuse.dock.locking import DockLock

MANIFEST = "manifest.json"

#: ``members()`` -> ``(revision, {key: ids})``: the dock revision (read first) and, per key, the
#: ids of the learnwares the index holds, in dock order.
Members = Callable[[], tuple[int, dict[str, list[str]]]]


class IndexWriteWarning(UserWarning):
    """The persisted index could not be written; searches still work from memory."""


class RowIndex(Protocol):
    """What :class:`PersistedIndexes` needs of an in-memory index: its row ids, and the rows
    appended or removed (each equal to a build over the resulting rows)."""

    ids: list[str]

    def __len__(self) -> int: ...

    def extended(self, ids: list[str], specs: list[Any]) -> RowIndex: ...

    def removed(self, gone: set[str]) -> RowIndex: ...


IndexT = TypeVar("IndexT", bound=RowIndex)


class PersistedIndexes(Generic[IndexT]):
    """One dock's persisted indexes of one kind, one per key (module doc).

    Subclasses set :attr:`FOLDER`, :attr:`FORMAT`, :attr:`SECTION` (the manifest's key for its
    entries), :attr:`SIZES` (the integer fields of an entry besides ``revision``) and implement
    :meth:`build`, :meth:`save` and :meth:`load`.

    Args:
        root: the dock's folder (the index lives in ``root/FOLDER``).
        lock: the dock's lock (manifest updates run under it).
        members: see :data:`Members`.
        load_specs: ``load_specs(ids)`` -> their specs (read only for learnwares being added).
    """

    FOLDER: str
    FORMAT: int
    SECTION: str
    SIZES: tuple[str, ...] = ("n",)

    def __init__(self, root: Path, lock: DockLock, members: Members, load_specs: Callable[[list[str]], list[Any]]):
        self.folder = Path(root) / self.FOLDER
        self._lock = lock
        self._members = members
        self._load_specs = load_specs
        self._memory: dict[str, tuple[int, IndexT]] = {}

    # ------------------------------------------------------------------ what a kind provides
    def build(self, ids: list[str], specs: list[Any]) -> IndexT:
        """The index of ``specs`` (row ``i`` is learnware ``ids[i]``)."""
        raise NotImplementedError

    def save(self, target: Path, index: IndexT) -> dict:
        """Write ``index``'s files into the new folder ``target``; the entry's fields besides
        ``folder`` and ``revision`` (at least :attr:`SIZES`)."""
        raise NotImplementedError

    def load(self, target: Path, entry: dict) -> IndexT | None:
        """The index written in ``target`` for ``entry``, or None when anything fails a check."""
        raise NotImplementedError

    # ------------------------------------------------------------------ public
    def get(self, key: str) -> IndexT | None:
        """The up-to-date index of ``key`` (None when the dock has no learnware there); loaded
        once per revision, brought up to date and written back when stale, missing or corrupt."""
        revision, keys = self._members()
        return self._current(key, revision, keys.get(key, []))

    def refresh(self, keys: set[str]) -> None:
        """Bring the persisted ``keys`` up to date after a submit or remove (keys without an entry
        yet are left for the first search to build)."""
        revision, members = self._members()
        entries = self._manifest()
        for key in keys:
            if key in entries:
                self._current(key, revision, members.get(key, []))

    def rebuild(self) -> None:
        """Delete the persisted index and build every key from the store."""
        with self._lock:
            shutil.rmtree(self.folder, ignore_errors=True)
        self._memory.clear()
        revision, members = self._members()
        for key, ids in members.items():
            self._current(key, revision, ids)

    def unreferenced(self) -> list[Path]:
        """Folders and temporary files under the index folder that its manifest does not name (left
        by a crash between writing a folder and replacing the manifest); call under the dock lock."""
        if not self.folder.is_dir():
            return []
        named = {entry["folder"] for entry in self._manifest().values()} | {MANIFEST}
        return sorted(p for p in self.folder.iterdir() if p.name not in named)

    # ------------------------------------------------------------------ internals
    def _current(self, key: str, revision: int, ids: list[str]) -> IndexT | None:
        memo = self._memory.get(key)
        if memo is not None and memo[0] == revision:
            return memo[1]
        entry = self._manifest().get(key)
        index = None if entry is None else self._read(entry)
        if index is not None and entry["revision"] == revision:
            self._memory[key] = (revision, index)
            return index
        updated = self._synced(index, ids)
        if updated is None and entry is None:
            return None
        if updated is not index or entry is None or entry["revision"] != revision:
            self._try_write(key, updated, revision, same_files=updated is index)
        if updated is not None:
            self._memory[key] = (revision, updated)
        return updated

    def _read(self, entry: dict) -> IndexT | None:
        try:
            return self.load(self.folder / entry["folder"], entry)
        except (OSError, ValueError, EOFError):
            return None

    def _synced(self, index: IndexT | None, ids: list[str]) -> IndexT | None:
        """``index`` brought to the learnwares ``ids`` (in dock order): compacted and appended,
        or built from the store when the order differs."""
        if not ids:
            return None
        if index is not None:
            present = set(ids)
            gone = {lid for lid in index.ids if lid not in present}
            if gone:
                index = index.removed(gone) if len(gone) < len(index) else None
        if index is not None and ids[:len(index)] == list(index.ids):
            new = ids[len(index):]
            return index.extended(new, self._load_specs(new)) if new else index
        return self.build(ids, self._load_specs(ids))

    def _try_write(self, key: str, index: IndexT | None, revision: int, same_files: bool) -> None:
        """:meth:`_write`, but a failed write (read-only or full disk) only warns (module doc)."""
        try:
            self._write(key, index, revision, same_files)
        except OSError as exc:
            warnings.warn(f"could not write the dock's search index under {self.folder} ({exc}); searches use an "
                          "in-memory index, rebuilt by each new process", IndexWriteWarning, stacklevel=4)

    def _write(self, key: str, index: IndexT | None, revision: int, same_files: bool) -> None:
        """Point the manifest at ``index`` for ``key`` (a new folder unless ``same_files``), or
        drop the key when ``index`` is None."""
        with self._lock:
            entries = self._manifest()
            old = entries.get(key)
            if index is None:
                entries.pop(key, None)
            elif same_files and old is not None:
                entries[key] = {**old, "revision": revision}
            else:
                entries[key] = {**self._saved(index), "revision": revision}
            replace_json(self.folder / MANIFEST, {"format": self.FORMAT, self.SECTION: entries})
            if old is not None and old["folder"] != entries.get(key, {}).get("folder"):
                shutil.rmtree(self.folder / old["folder"], ignore_errors=True)

    def _saved(self, index: IndexT) -> dict:
        """:meth:`save` into a new sub-folder (removed again if the write fails); its entry without
        the revision."""
        name = uuid.uuid4().hex
        target = self.folder / name
        target.mkdir(parents=True)
        try:
            return {**self.save(target, index), "folder": name}
        except BaseException:
            shutil.rmtree(target, ignore_errors=True)
            raise

    def _manifest(self) -> dict[str, dict]:
        """The manifest's entries; empty when it is missing or not a manifest of this format."""
        try:
            data = json.loads((self.folder / MANIFEST).read_text())
            entries = data[self.SECTION] if data.get("format") == self.FORMAT else {}
            return {str(k): v for k, v in entries.items() if self._entry_ok(v)}
        except (OSError, ValueError, KeyError, TypeError, AttributeError):
            return {}

    def _entry_ok(self, entry: object) -> bool:
        return (isinstance(entry, dict) and isinstance(entry.get("folder"), str) and "/" not in entry["folder"]
                and not entry["folder"].startswith(".")
                and all(isinstance(entry.get(k), int) and not isinstance(entry.get(k), bool)
                        for k in ("revision", *self.SIZES)))


# ---------------------------------------------------------------------- arrays and files
#: An array's expected dtype (``"U"``: any unicode width) and shape in terms of an entry's sizes.
ArraySchema = dict[str, tuple[str, Sequence[str]]]


def save_arrays(target: Path, arrays: dict[str, np.ndarray], schema: ArraySchema) -> None:
    """One ``.npy`` file per array of ``schema`` in ``target`` (never pickled)."""
    for key, (dtype, _) in schema.items():
        np.save(target / f"{key}.npy", np.ascontiguousarray(arrays[key], dtype=None if dtype == "U" else dtype),
                allow_pickle=False)


def load_arrays(target: Path, schema: ArraySchema, sizes: dict[str, int]) -> dict[str, np.ndarray] | None:
    """The arrays of ``schema`` in ``target``, memory-mapped (``allow_pickle=False``), or None when
    one is missing or has another dtype or shape than ``schema`` with ``sizes`` gives; a file that
    is not an ``.npy`` raises ``ValueError``/``OSError`` (the caller treats both as damage)."""
    arrays = {}
    for key, (dtype, shape) in schema.items():
        array = np.load(target / f"{key}.npy", mmap_mode="r", allow_pickle=False)
        kind_ok = array.dtype.kind == "U" if dtype == "U" else array.dtype == np.dtype(dtype)
        if not kind_ok or array.shape != tuple(sizes.get(s, s) for s in shape):
            return None
        arrays[key] = array
    return arrays


def write_faiss(index: Any, path: Path) -> str:
    """Write a FAISS index to ``path``; its SHA-256 (for :func:`read_faiss`)."""
    import faiss

    faiss.write_index(index, str(path))
    return sha256_of(path)


def read_faiss(path: Path, sha256: str | None) -> Any:
    """The FAISS index at ``path`` if its SHA-256 is ``sha256``, else None (FAISS's reader is only
    given bytes the dock wrote itself)."""
    if not sha256:
        return None
    try:
        if sha256_of(path) != sha256:
            return None
        import faiss

        return faiss.read_index(str(path))
    except (OSError, RuntimeError):
        return None


def replace_json(path: Path, data: dict) -> None:
    """Write ``data`` to ``path`` atomically (temporary sibling, fsync, ``os.replace``)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")
    with open(tmp, "w") as f:
        json.dump(data, f)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)
