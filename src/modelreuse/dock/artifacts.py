"""Content-addressed artifact store: ``objects/<sha[:2]>/<sha>.zip`` plus an unpacked cache.

Writes are atomic: an object or an unpacked folder is written under a temporary name in its final
folder and renamed into place, so a reader or a crash sees either nothing or the whole thing.
An object is immutable once in place (its name is its SHA-256). Deleting objects is the dock's
decision, taken under :class:`~modelreuse.dock.locking.DockLock` after checking that no row refers
to them; temporary names start with :data:`TMP_PREFIX` so ``dock check`` can find leftovers.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
from pathlib import Path

from modelreuse.learnware import safe_extract

TMP_PREFIX = ".tmp-"


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


class ArtifactStore:
    """Stores learnware zips by content hash; unpacks them on demand under ``unpacked/``. ``root``
    is kept resolved (absolute), so every path it hands out stays valid after a ``chdir``."""

    def __init__(self, root: Path):
        self.root = Path(root).resolve()
        self.objects = self.root / "objects"
        self.unpacked_root = self.root / "unpacked"
        self.objects.mkdir(parents=True, exist_ok=True)
        self.unpacked_root.mkdir(parents=True, exist_ok=True)

    def object_path(self, sha: str) -> Path:
        return self.objects / sha[:2] / f"{sha}.zip"

    def unpacked_path(self, learnware_id: str) -> Path:
        return self.unpacked_root / learnware_id

    def put(self, zip_path: Path, sha: str) -> bool:
        """Copy ``zip_path`` into the store atomically; True if this call created the object."""
        dest = self.object_path(sha)
        if dest.is_file():
            return False
        dest.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=TMP_PREFIX, dir=dest.parent)
        try:
            with os.fdopen(fd, "wb") as out, open(zip_path, "rb") as src:
                shutil.copyfileobj(src, out)
                out.flush()
                os.fsync(out.fileno())
            os.replace(tmp, dest)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        return True

    def unpacked(self, learnware_id: str, sha: str) -> Path:
        """Folder with the unpacked package, extracted atomically from the object if missing."""
        target = self.unpacked_path(learnware_id)
        if (target / "manifest.json").is_file():
            return target
        tmp = Path(tempfile.mkdtemp(prefix=TMP_PREFIX, dir=self.unpacked_root))
        try:
            safe_extract(self.object_path(sha), tmp / "pkg")
            if target.exists() and not (target / "manifest.json").is_file():
                _move_aside(target, tmp / "incomplete")  # left by an older, non-atomic version
            try:
                os.rename(tmp / "pkg", target)
            except OSError:  # another process put it in place first
                if not (target / "manifest.json").is_file():
                    raise
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
        return target

    def delete(self, learnware_id: str, sha: str) -> None:
        """Delete the unpacked folder and the object (the caller checked nothing refers to them)."""
        shutil.rmtree(self.unpacked_path(learnware_id), ignore_errors=True)
        self.object_path(sha).unlink(missing_ok=True)

    def object_hashes(self) -> dict[str, Path]:
        """Every stored object by its SHA-256 (from the file name)."""
        return {p.stem: p for p in self.objects.glob("*/*.zip") if not p.name.startswith(TMP_PREFIX)}

    def unpacked_ids(self) -> dict[str, Path]:
        return {p.name: p for p in self.unpacked_root.iterdir() if not p.name.startswith(TMP_PREFIX)}

    def leftovers(self) -> list[Path]:
        """Temporary files and folders that an interrupted write left behind."""
        return sorted([*self.objects.glob(f"*/{TMP_PREFIX}*"), *self.unpacked_root.glob(f"{TMP_PREFIX}*")])


def _move_aside(folder: Path, dest: Path) -> None:
    """Rename ``folder`` to ``dest`` (to be deleted with it); a concurrent mover may win."""
    try:
        os.rename(folder, dest)
    except FileNotFoundError:
        pass
