"""Content-addressed artifact store: ``objects/<sha[:2]>/<sha>.zip`` plus an unpacked cache."""

from __future__ import annotations

import hashlib
import shutil
from pathlib import Path

from modelreuse.learnware import safe_extract


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


class ArtifactStore:
    """Stores learnware zips by content hash; unpacks them on demand under ``unpacked/``."""

    def __init__(self, root: Path):
        self.root = Path(root)
        (self.root / "objects").mkdir(parents=True, exist_ok=True)
        (self.root / "unpacked").mkdir(parents=True, exist_ok=True)

    def object_path(self, sha: str) -> Path:
        return self.root / "objects" / sha[:2] / f"{sha}.zip"

    def put(self, zip_path: Path, sha: str) -> bool:
        """Move ``zip_path`` into the store; returns True if this call created the object."""
        dest = self.object_path(sha)
        if dest.exists():
            return False
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.move(str(zip_path), dest)
        return True

    def unpacked(self, learnware_id: str, sha: str) -> Path:
        """Directory with the unpacked package (re-created from the zip if missing)."""
        target = self.root / "unpacked" / learnware_id
        if not (target / "manifest.json").is_file():
            shutil.rmtree(target, ignore_errors=True)
            safe_extract(self.object_path(sha), target)
        return target

    def remove(self, learnware_id: str, sha: str, keep_object: bool = False) -> None:
        shutil.rmtree(self.root / "unpacked" / learnware_id, ignore_errors=True)
        if not keep_object:
            self.object_path(sha).unlink(missing_ok=True)
