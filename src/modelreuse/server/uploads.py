"""The upload queue: a learnware zip arrives, is checked cheaply, waits as ``pending`` in the
``server_uploads`` table of the dock's database, and is validated in the sandbox by a worker
(:mod:`modelreuse.server.validation_worker`) that ends it ``verified`` (stored in the dock) or
``rejected`` (with the error's type and message).

Receiving: the body goes in chunks to a private file under ``<dock root>/server/uploads``,
refused (:class:`PayloadTooLargeError`, HTTP 413) as soon as it exceeds the server's limit.
Cheap checks, before anything is queued, run no code from the package: the zip's entries and the
manifest (:meth:`Learnware.open`, :mod:`modelreuse._archive`), its spec files (loaded by the
specs' own safe readers), and its artifact format (``pickle``/``joblib`` run code when loaded and
are refused: the server never trusts an upload). A content id already in the dock is a
duplicate (409). Anything refused leaves no file and no row.

The REST endpoint (raw body) and the web form (multipart) both end in :func:`enqueue`; Python
callers use :func:`submit_upload`. Ownership and versions are in :mod:`modelreuse.server.ownership`,
whose functions are re-exported here.
"""

from __future__ import annotations

import datetime as dt
import os
import tempfile
import uuid
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO

from sqlalchemy import DateTime, Integer, String, Text, func, select
from sqlalchemy.engine import Engine
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column

from modelreuse.dock.artifacts import sha256_of
from modelreuse.dock.store import LearnwareRecord
from modelreuse.errors import (
    DuplicateLearnwareError,
    PayloadTooLargeError,
    PermissionDeniedError,
    UntrustedArtifactError,
    UploadNotFoundError,
)
from modelreuse.learnware import Learnware
from modelreuse.server import ownership
from modelreuse.server.accounts import Principal
from modelreuse.server.deps import ServerState
from modelreuse.server.ownership import delete_learnware, hidden_ids, iso, uploader_of, utcnow, versions_of
from modelreuse.server.schemas import UploadStatus

__all__ = ["UploadStatus", "check_replaces", "create_tables", "delete_learnware", "enqueue", "hidden_ids",
           "incoming", "submit_upload", "upload_status", "uploader_of", "uploads_of", "versions_of",
           "visible_upload"]

UPLOADS_DIR = Path("server") / "uploads"
CHUNK_BYTES = 1 << 16
CODE_FORMATS = ("pickle", "joblib")
"""Artifact formats whose loading runs code from the file: never accepted by the server."""
MAX_LISTED = 200


class UploadsBase(DeclarativeBase):
    pass


class UploadRecord(UploadsBase):
    __tablename__ = "server_uploads"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    user: Mapped[str] = mapped_column(String(64), index=True)
    status: Mapped[str] = mapped_column(String(16), index=True)
    replaces: Mapped[str | None] = mapped_column(String(64), nullable=True)
    content_id: Mapped[str] = mapped_column(String(64))
    learnware_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    error_type: Mapped[str | None] = mapped_column(String(100), nullable=True)
    reason: Mapped[str | None] = mapped_column(Text, nullable=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow, index=True)
    claimed_at: Mapped[dt.datetime | None] = mapped_column(DateTime, nullable=True)
    finished_at: Mapped[dt.datetime | None] = mapped_column(DateTime, nullable=True)

    def status_model(self) -> UploadStatus:
        return UploadStatus(upload_id=self.id, status=self.status, reason=self.reason, error_type=self.error_type,
                            learnware_id=self.learnware_id, user=self.user, replaces=self.replaces,
                            created_at=iso(self.created_at), finished_at=iso(self.finished_at))


def create_tables(engine: Engine) -> None:
    """The queue and ownership tables (idempotent; ``modelreuse serve`` runs it before its workers start)."""
    UploadsBase.metadata.create_all(engine)
    ownership.create_tables(engine)


def uploads_folder(state: ServerState) -> Path:
    folder = state.dock.root / UPLOADS_DIR
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def staged_path(state: ServerState, upload_id: str) -> Path:
    """Where a queued upload's zip waits for its validation."""
    return uploads_folder(state) / f"{upload_id}.zip"


# ---------------------------------------------------------------------------- receiving
class Incoming:
    """An upload's bytes being written to a private file, at most ``limit`` of them."""

    def __init__(self, folder: Path, limit: int):
        fd, name = tempfile.mkstemp(prefix=".receiving-", suffix=".zip", dir=folder)
        self.path, self.limit, self.size = Path(name), limit, 0
        self._file = os.fdopen(fd, "wb")

    def write(self, chunk: bytes) -> None:
        """Append ``chunk``; :class:`PayloadTooLargeError` once the total exceeds the limit."""
        self.size += len(chunk)
        if self.size > self.limit:
            raise PayloadTooLargeError(f"the upload is larger than this server's limit of {self.limit} bytes; "
                                       "ship a smaller package (or ask the operator for --max-upload-mb)")
        self._file.write(chunk)

    def close(self) -> None:
        self._file.close()


def check_declared_size(state: ServerState, content_length: str | None) -> None:
    """Refuse an upload whose ``Content-Length`` already exceeds the limit, before reading it."""
    limit = state.settings.max_upload_bytes
    if content_length is not None and content_length.isdigit() and int(content_length) > limit:
        raise PayloadTooLargeError(f"the upload declares {content_length} bytes; this server accepts at most {limit}")


@contextmanager
def incoming(state: ServerState) -> Iterator[Incoming]:
    """A new :class:`Incoming` file under the dock's upload folder, removed at the end unless
    :func:`enqueue` moved it into the queue."""
    upload = Incoming(uploads_folder(state), state.settings.max_upload_bytes)
    try:
        yield upload
    finally:
        upload.close()
        upload.path.unlink(missing_ok=True)


def _chunks(source: Iterable[bytes] | BinaryIO) -> Iterator[bytes]:
    if hasattr(source, "read"):
        while chunk := source.read(CHUNK_BYTES):
            yield chunk
    else:
        yield from source


# ---------------------------------------------------------------------------- queueing
def check_replaces(state: ServerState, principal: Principal, replaces: str | None) -> None:
    """A new version of ``replaces`` may come only from its uploader or an admin (404 for an
    unknown id, 403 otherwise); runs before any byte is stored."""
    if not principal.has("write"):
        raise PermissionDeniedError("uploading needs a token with the 'write' scope")
    if replaces is not None:
        ownership.check_may_change(state, principal, replaces)


def submit_upload(state: ServerState, principal: Principal, chunks: Iterable[bytes] | BinaryIO,
                  replaces: str | None = None) -> UploadStatus:
    """Receive, check and queue an upload (module doc); its status is ``pending``."""
    check_replaces(state, principal, replaces)
    with incoming(state) as upload:
        for chunk in _chunks(chunks):
            upload.write(chunk)
        return enqueue(state, principal, upload, replaces)


def enqueue(state: ServerState, principal: Principal, upload: Incoming, replaces: str | None) -> UploadStatus:
    """Check a received upload cheaply and queue it as ``pending`` (its file moves into the queue)."""
    upload.close()
    content_id = _cheap_check(upload.path)
    with Session(state.dock.engine) as session:
        if session.get(LearnwareRecord, content_id) is not None:
            raise DuplicateLearnwareError(f"learnware {content_id} is already in the dock; nothing was changed "
                                          "(equal content gives an equal id)")
        record = UploadRecord(id=uuid.uuid4().hex, user=principal.user, status="pending", replaces=replaces,
                              content_id=content_id)
        target = staged_path(state, record.id)
        os.replace(upload.path, target)
        session.add(record)
        try:
            session.commit()
        except BaseException:
            target.unlink(missing_ok=True)
            raise
        status = record.status_model()
    workers = state.extras.get("uploads")
    if workers is not None:
        workers.wake()
    return status


def _cheap_check(path: Path) -> str:
    """The package's content id (as the dock will compute it) after the checks that run no code."""
    with tempfile.TemporaryDirectory(prefix=".check-", dir=path.parent) as tmp:
        lw = Learnware.open(path, extract_to=Path(tmp) / "pkg")
        fmt = lw.manifest.artifact.format
        if fmt in CODE_FORMATS:
            raise UntrustedArtifactError(f"the model is a {fmt} file, which runs code when loaded; this server "
                                         "accepts only skops, safetensors and onnx artifacts")
        lw.load_specs()
        return sha256_of(lw.to_zip(Path(tmp) / "package.zip"))[:16]


# ---------------------------------------------------------------------------- reading
def upload_status(state: ServerState, upload_id: str) -> UploadStatus:
    """The status of one upload; :class:`UploadNotFoundError` (404) for an unknown id."""
    with Session(state.dock.engine) as session:
        record = session.get(UploadRecord, upload_id)
        if record is None:
            raise UploadNotFoundError(f"no upload with id {upload_id!r}")
        return record.status_model()


def visible_upload(state: ServerState, principal: Principal, upload_id: str) -> UploadStatus:
    """:func:`upload_status`, for its uploader or an admin only (403 otherwise)."""
    status = upload_status(state, upload_id)
    if status.user != principal.user and not principal.has("admin"):
        raise PermissionDeniedError(f"upload {upload_id} is {status.user!r}'s; only they or an admin may see it")
    return status


def uploads_of(state: ServerState, user: str) -> list[UploadStatus]:
    """The user's uploads, newest first (at most :data:`MAX_LISTED`)."""
    with Session(state.dock.engine) as session:
        records = session.scalars(select(UploadRecord).where(UploadRecord.user == user)
                                  .order_by(UploadRecord.created_at.desc()).limit(MAX_LISTED))
        return [r.status_model() for r in records]


def counts_by_status(state: ServerState) -> dict[str, int]:
    """How many uploads are in each status (all processes; one SQL query)."""
    with Session(state.dock.engine) as session:
        rows = session.execute(select(UploadRecord.status, func.count()).group_by(UploadRecord.status)).all()
    return {status: int(n) for status, n in rows}


def remove_staged(state: ServerState, upload_id: str) -> None:
    staged_path(state, upload_id).unlink(missing_ok=True)

