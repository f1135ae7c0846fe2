"""Package-wide settings: the version, and where the shared datasets live (a parameter, else
``$MODELREUSE_DATA``, else ``../shared/data`` relative to the working directory, i.e. beside the
repository when run from its root)."""

from __future__ import annotations

import os
from pathlib import Path

__version__ = "0.1.0"

DEFAULT_DATA_ROOT = Path("..") / "shared" / "data"


def default_data_root() -> Path:
    """``$MODELREUSE_DATA`` or ``../shared/data``."""
    return Path(os.environ.get("MODELREUSE_DATA", DEFAULT_DATA_ROOT))
