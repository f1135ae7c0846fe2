"""The upload queue's claims, driven by hand on a server state (no HTTP, no workers) on SQLite and
PostgreSQL (the claims are compare-and-set SQL updates): exactly one claimer wins, a claim left by a
dead process is taken again and a late finish of the lost claim changes nothing, a reclaimed upload
adopts the learnware its dead claimer stored, and one interrupted too often is rejected."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import update
from sqlalchemy.orm import Session

from modelreuse.bench.postgres import fresh_database
from modelreuse.server.accounts import Principal
from modelreuse.server.app import open_state
from modelreuse.server.ownership import uploader_of
from modelreuse.server.settings import ServerSettings
from modelreuse.server.uploads import UploadRecord, staged_path, submit_upload, upload_status
from modelreuse.server.validation_worker import MAX_ATTEMPTS, _finish, claim_next, validate


@pytest.fixture(params=["sqlite", "postgresql"])
def queue_state(request, tmp_path):
    """A server state (no HTTP, no workers) on a fresh dock, to drive the queue's claims by hand."""
    db_url = None
    if request.param == "postgresql":
        db_url = fresh_database(request.getfixturevalue("postgres_url"), f"queue_{tmp_path.name}")
    state = open_state(ServerSettings(dock_root=tmp_path / "dock", db_url=db_url))
    yield state
    state.dock.engine.dispose()


def _queued(state, package: bytes):
    return submit_upload(state, Principal("alice", frozenset({"write"})), [package[:100], package[100:]])


def _age_claims(state) -> None:
    """Make every claim look older than any reclaim delay (as if its process died long ago)."""
    with Session(state.dock.engine) as session:
        session.execute(update(UploadRecord).values(claimed_at=dt.datetime(2000, 1, 1)))
        session.commit()


def test_one_claimer_wins_and_a_lost_claim_changes_nothing(queue_state, ridge_zips):
    queued = _queued(queue_state, ridge_zips[1.0])
    first = claim_next(queue_state.dock.engine)
    assert (first.upload_id, first.attempts) == (queued.upload_id, 1)
    assert claim_next(queue_state.dock.engine) is None
    assert upload_status(queue_state, queued.upload_id).status == "validating"
    _age_claims(queue_state)  # the first claimer's process "died"
    second = claim_next(queue_state.dock.engine)
    assert (second.upload_id, second.attempts) == (queued.upload_id, 2)
    _finish(queue_state, first, error=("ModelPredictError", "late"))  # the first claimer was only slow
    assert upload_status(queue_state, queued.upload_id).status == "validating"
    assert staged_path(queue_state, queued.upload_id).is_file()


def test_a_reclaimed_upload_adopts_what_its_dead_claimer_stored(queue_state, ridge_zips):
    queued = _queued(queue_state, ridge_zips[1.0])
    claim_next(queue_state.dock.engine)
    stored = queue_state.dock.submit(staged_path(queue_state, queued.upload_id), validate=False)  # then it died
    _age_claims(queue_state)
    validate(queue_state, claim_next(queue_state.dock.engine))
    status = upload_status(queue_state, queued.upload_id)
    assert (status.status, status.learnware_id) == ("verified", stored)
    assert uploader_of(queue_state, stored) == "alice"
    assert not staged_path(queue_state, queued.upload_id).exists()


def test_an_upload_interrupted_too_often_is_rejected(queue_state, ridge_zips):
    queued = _queued(queue_state, ridge_zips[1.0])
    for _ in range(MAX_ATTEMPTS):
        assert claim_next(queue_state.dock.engine) is not None
        _age_claims(queue_state)
    validate(queue_state, claim_next(queue_state.dock.engine))
    status = upload_status(queue_state, queued.upload_id)
    assert status.status == "rejected" and "interrupted" in status.reason
    assert len(queue_state.dock) == 0
