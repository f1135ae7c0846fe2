"""What a dock server is configured with (:class:`ServerSettings`), from Python, the CLI or the
environment (``MODELREUSE_SERVER_SETTINGS``, JSON: how ``modelreuse serve --workers N`` hands the
settings to each uvicorn worker process)."""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, fields
from pathlib import Path

from modelreuse.errors import InvalidLimitError

SETTINGS_ENV = "MODELREUSE_SERVER_SETTINGS"
MIB = 1024 * 1024


@dataclass(frozen=True)
class ServerSettings:
    """Settings of one dock server.

    Args:
        dock_root: the dock's folder (artifacts, index; the SQLite file unless ``db_url`` is given).
        db_url: SQLAlchemy URL of the metadata database (``postgresql+psycopg://...``); ``None``
            keeps the embedded SQLite file. Accounts and the upload queue live in the same database.
        anonymous_read: whether listing, cards, downloads and search work without a token.
        max_upload_bytes: largest accepted learnware zip (larger uploads get HTTP 413).
        max_spec_bytes: largest accepted spec file in a search request.
        validation_workers: sandboxed validations run at once by this process.
        rate_limit_per_minute: requests per token (or address, for anonymous requests) per minute;
            0 turns the limit off.
    """

    dock_root: Path
    db_url: str | None = None
    anonymous_read: bool = True
    max_upload_bytes: int = 64 * MIB
    max_spec_bytes: int = 16 * MIB
    validation_workers: int = 1
    rate_limit_per_minute: int = 0

    def __post_init__(self) -> None:
        object.__setattr__(self, "dock_root", Path(self.dock_root).resolve())
        for name in ("max_upload_bytes", "max_spec_bytes", "validation_workers"):
            if getattr(self, name) < 1:
                raise InvalidLimitError(f"{name} must be at least 1, got {getattr(self, name)}")
        if self.rate_limit_per_minute < 0:
            raise InvalidLimitError(f"rate_limit_per_minute must be >= 0, got {self.rate_limit_per_minute}")

    def to_env(self) -> str:
        """These settings as the JSON that :func:`settings_from_env` reads."""
        return json.dumps({k: str(v) if isinstance(v, Path) else v for k, v in asdict(self).items()})


def settings_from_env() -> ServerSettings:
    """The settings in ``$MODELREUSE_SERVER_SETTINGS`` (set by ``modelreuse serve``)."""
    raw = os.environ.get(SETTINGS_ENV)
    if not raw:
        raise InvalidLimitError(f"${SETTINGS_ENV} is not set; start the server with `modelreuse serve`")
    values = json.loads(raw)
    known = {f.name for f in fields(ServerSettings)}
    return ServerSettings(**{k: v for k, v in values.items() if k in known})
