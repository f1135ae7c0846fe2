"""Cross-process coordination of one dock root: the dock lock and staging folders.

* :class:`DockLock` is an exclusive ``flock`` on ``<root>/.lock``. Every change of the dock's
  files *and* rows happens under it (schema creation, storing a submitted package, removal, repair),
  so a race can never leave a row whose files another process deleted. It is held for
  milliseconds: the long part of a submit (sandboxed validation) runs before it is taken.
  The kernel releases the lock when its holder dies, so a ``kill -9`` never leaves the dock locked.
* :func:`staging_folder` makes a private folder under ``<root>/staging`` for one submit and holds a
  lock on it for as long as the submit runs. A folder whose lock can be taken belongs to a process
  that died; :func:`abandoned_staging` lists those for ``modelreuse dock check --repair``.

Paths are resolved when given, so a relative dock root and a later ``chdir`` name the same files.
Locks are advisory and POSIX-only (``fcntl``); a dock root on a network file system must support
``flock`` for several processes or hosts to share it.
"""

from __future__ import annotations

import fcntl
import os
import shutil
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

LOCK_FILE = ".lock"
STAGING_DIR = "staging"
_STAGING_LOCK = ".owner"


class DockLock:
    """Exclusive lock on a dock root, between processes (``flock``) and between the threads of one
    process (a :class:`threading.RLock`: a server shares one Dock among its request threads); use
    as ``with DockLock(root):``. Re-entrant within one thread (nested ``with`` blocks take the file
    lock once)."""

    def __init__(self, root: Path):
        self.path = Path(root).resolve() / LOCK_FILE
        self._fd: int | None = None
        self._depth = 0
        self._thread_lock = threading.RLock()

    def __enter__(self) -> DockLock:
        self._thread_lock.acquire()
        try:
            if self._depth == 0:
                self._fd = _locked_fd(self.path)
        except BaseException:
            self._thread_lock.release()
            raise
        self._depth += 1
        return self

    def __exit__(self, *exc: object) -> None:
        self._depth -= 1
        try:
            if self._depth == 0 and self._fd is not None:
                fcntl.flock(self._fd, fcntl.LOCK_UN)
                os.close(self._fd)
                self._fd = None
        finally:
            self._thread_lock.release()


def _locked_fd(path: Path) -> int:
    """A descriptor of ``path`` holding an exclusive ``flock`` (waits for it)."""
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
    except BaseException:
        os.close(fd)
        raise
    return fd


@contextmanager
def staging_folder(root: Path, prefix: str = "submit-") -> Iterator[Path]:
    """A new folder (absolute path) under ``<root>/staging``, locked while in use and removed afterwards."""
    base = Path(root).resolve() / STAGING_DIR
    base.mkdir(parents=True, exist_ok=True)
    folder = Path(tempfile.mkdtemp(prefix=prefix, dir=base))
    fd = os.open(folder / _STAGING_LOCK, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)
        os.close(fd)


def abandoned_staging(root: Path) -> list[Path]:
    """Staging folders whose owning process is gone (their lock is free, or they have none)."""
    base = Path(root).resolve() / STAGING_DIR
    if not base.is_dir():
        return []
    return [folder for folder in sorted(base.iterdir()) if not _in_use(folder)]


def _in_use(folder: Path, grace_s: float = 60.0) -> bool:
    """Locked by a live process, or so new that its owner may not have locked it yet."""
    try:
        fd = os.open(folder / _STAGING_LOCK, os.O_RDWR)
    except OSError:
        try:
            return time.time() - folder.stat().st_mtime < grace_s
        except OSError:
            return False
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    finally:
        os.close(fd)
    return False
