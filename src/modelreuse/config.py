"""Package-wide settings: the version, the progress convention, the cache home, and where the shared datasets live (a parameter, else
``$MODELREUSE_DATA``, else ``../shared/data`` relative to the working directory, i.e. beside the
repository when run from its root)."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

__version__ = "0.1.0"

DEFAULT_DATA_ROOT = Path("..") / "shared" / "data"
DEFAULT_CACHE_HOME = Path(".cache")

Progress = Callable[[str], None]
"""The one progress convention: long work takes ``progress: Progress | None`` and calls it with a
short human-readable message per step; library code never prints. The CLI passes a rich printer
(stderr, so ``--json`` output stays clean); the default ``None`` says nothing."""


def cache_home(*parts: str) -> Path:
    """Where derived, re-computable data (text embeddings, trained zoo weights) is cached:
    ``$MODELREUSE_CACHE`` or ``.cache`` in the working directory, joined with ``parts``."""
    return Path(os.environ.get("MODELREUSE_CACHE", DEFAULT_CACHE_HOME)).joinpath(*parts)


def write_cache_file(path: Path, write: Callable[[Path], None]) -> None:
    """Create the cache file ``path`` so that concurrent readers (parallel test workers, a second
    run) see it whole or not at all: ``write(tmp)`` fills a temporary sibling with the same suffix
    (numpy and safetensors keep it), which then replaces ``path`` atomically."""
    import uuid

    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.stem}.{uuid.uuid4().hex}.tmp{path.suffix}")
    try:
        write(tmp)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def default_data_root() -> Path:
    """``$MODELREUSE_DATA`` or ``../shared/data``."""
    return Path(os.environ.get("MODELREUSE_DATA", DEFAULT_DATA_ROOT))
