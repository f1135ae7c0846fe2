"""The workers that validate queued uploads: ``settings.validation_workers`` threads per server
process, each driving the dock's sandboxed validation (:meth:`Dock.submit`, a child process with
kernel-enforced limits) for one upload at a time.

Several processes (uvicorn workers, or servers sharing a database) share one queue: a worker
claims a row with a compare-and-set on its ``attempts`` counter, so exactly one claimer wins. A
row left ``validating`` by a process that died is claimed again after :data:`RECLAIM_AFTER_S`
(longer than a validation may take); after :data:`MAX_ATTEMPTS` claims it is rejected. A
reclaimed upload whose learnware the dead process had already stored (its id in the dock, with
no uploader) is adopted instead of being rejected as a duplicate. The finishing write is a
compare-and-set too, so a worker that lost its claim changes nothing.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
from dataclasses import dataclass

from sqlalchemy import and_, or_, select, update
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from modelreuse.dock.validation import DEFAULT_LIMITS
from modelreuse.errors import DuplicateLearnwareError, ModelReuseError
from modelreuse.server import ownership
from modelreuse.server.deps import ServerState
from modelreuse.server.http_errors import public_message
from modelreuse.server.ownership import OwnershipRecord, utcnow
from modelreuse.server.uploads import UploadRecord, remove_staged, staged_path

LOG = logging.getLogger("modelreuse.server.uploads")
RECLAIM_AFTER_S = 2 * (DEFAULT_LIMITS.timeout_s + DEFAULT_LIMITS.startup_timeout_s) + 60
MAX_ATTEMPTS = 3
POLL_S = 1.0
"""How often an idle worker looks for uploads queued by other processes (its own wake it at once)."""


@dataclass(frozen=True)
class Job:
    upload_id: str
    user: str
    replaces: str | None
    content_id: str
    attempts: int


def claim_next(engine: Engine, reclaim_after_s: float = RECLAIM_AFTER_S) -> Job | None:
    """Claim the oldest pending upload (or one left ``validating`` longer than ``reclaim_after_s``)
    for this caller: ``validating``, ``attempts`` + 1. None when there is nothing to do."""
    cutoff = utcnow() - dt.timedelta(seconds=reclaim_after_s)
    claimable = or_(UploadRecord.status == "pending",
                    and_(UploadRecord.status == "validating", UploadRecord.claimed_at < cutoff))
    with Session(engine) as session:
        candidates = session.execute(select(UploadRecord.id, UploadRecord.user, UploadRecord.replaces,
                                            UploadRecord.content_id, UploadRecord.attempts)
                                     .where(claimable).order_by(UploadRecord.created_at).limit(8)).all()
        for upload_id, user, replaces, content_id, attempts in candidates:
            won = session.execute(update(UploadRecord)
                                  .where(UploadRecord.id == upload_id, UploadRecord.attempts == attempts, claimable)
                                  .values(status="validating", attempts=attempts + 1, claimed_at=utcnow()))
            session.commit()
            if won.rowcount == 1:
                return Job(upload_id, user, replaces, content_id, attempts + 1)
    return None


def validate(state: ServerState, job: Job) -> None:
    """Validate and store one claimed upload, then mark it ``verified`` or ``rejected``."""
    if job.attempts > MAX_ATTEMPTS:
        _finish(state, job, error=("ModelPredictError", f"validation was interrupted {MAX_ATTEMPTS} times "
                                   "(the server stopped while checking it); upload it again"))
        return
    try:
        learnware_id = state.dock.submit(staged_path(state, job.upload_id), validate=True)
    except DuplicateLearnwareError as exc:
        if not _adoptable(state.dock.engine, job):
            _finish(state, job, error=(type(exc).__name__, str(exc)))
            return
        learnware_id = job.content_id
    except ModelReuseError as exc:
        _finish(state, job, error=(type(exc).__name__, str(exc)))
        return
    except Exception as exc:  # a bug or the machine (disk full): reject, keep serving
        LOG.exception("validating upload %s failed", job.upload_id)
        _finish(state, job, error=(type(exc).__name__, f"the server could not validate the upload: {exc}"))
        return
    _finish(state, job, learnware_id=learnware_id)


def _adoptable(engine: Engine, job: Job) -> bool:
    """A reclaimed upload whose learnware an interrupted attempt stored but never recorded."""
    if job.attempts == 1:
        return False
    with Session(engine) as session:
        return session.get(OwnershipRecord, job.content_id) is None


def _finish(state: ServerState, job: Job, learnware_id: str | None = None,
            error: tuple[str, str] | None = None) -> None:
    """Record the outcome if this worker still holds the claim (and the ownership row with it)."""
    with Session(state.dock.engine) as session:
        if learnware_id is not None:
            ownership.record_upload(session, learnware_id, job.user, job.replaces)
        error_type, reason = error or (None, None)
        reason = None if reason is None else public_message(reason, state.dock.root)
        won = session.execute(update(UploadRecord)
                              .where(UploadRecord.id == job.upload_id, UploadRecord.attempts == job.attempts)
                              .values(status="rejected" if error else "verified", learnware_id=learnware_id,
                                      error_type=error_type, reason=reason, finished_at=utcnow()))
        if won.rowcount != 1:
            session.rollback()
            LOG.warning("upload %s was claimed again while this worker validated it; its result is dropped",
                        job.upload_id)
            return
        session.commit()
    remove_staged(state, job.upload_id)


class ValidationWorkers:
    """``state.settings.validation_workers`` daemon threads validating queued uploads with the
    server's Dock (its lock excludes threads as well as processes)."""

    def __init__(self, state: ServerState):
        self.state = state
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._threads = [threading.Thread(target=self._run, name=f"modelreuse-validation-{i}", daemon=True)
                         for i in range(state.settings.validation_workers)]

    def start(self) -> None:
        for thread in self._threads:
            thread.start()

    def wake(self) -> None:
        """Look at the queue now (called when this process queues an upload)."""
        self._wake.set()

    def stop(self, timeout_s: float = 2.0) -> None:
        """Stop claiming; a validation in progress is left to be reclaimed by a later process."""
        self._stop.set()
        self._wake.set()
        for thread in self._threads:
            thread.join(timeout_s)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                job = claim_next(self.state.dock.engine)
            except Exception:  # the database is away for a moment: try again later
                LOG.exception("claiming an upload failed")
                job = None
            if job is None:
                self._wake.wait(POLL_S)
                self._wake.clear()
                continue
            validate(self.state, job)
