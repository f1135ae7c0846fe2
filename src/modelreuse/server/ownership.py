"""Who uploaded each learnware and its place among its family's versions, in a server table of the
dock's database (``server_learnwares``), next to the dock's own ``learnwares`` table.

A *family* is the chain of versions started by one upload; publishing with ``replaces=<id>``
adds version n+1 and marks every older version ``superseded_by`` the newest (still downloadable
by id; hidden from search and from listings unless asked for). Learnwares added to the dock
outside the server (the library, the CLI) have no row: no uploader (so only an admin may change
them), version 1 of a family of their own.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import DateTime, Integer, String, delete, select, update
from sqlalchemy.engine import Engine
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column
from sqlalchemy.sql.elements import ColumnElement

from modelreuse.dock.store import LearnwareRecord
from modelreuse.errors import PermissionDeniedError
from modelreuse.server.accounts import Principal
from modelreuse.server.deps import ServerState


def utcnow() -> dt.datetime:
    """Now in UTC, naive: stored the same on SQLite and PostgreSQL ``timestamp`` columns."""
    return dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)


def iso(moment: dt.datetime | None) -> str | None:
    """A stored naive-UTC time as ISO 8601 with its offset."""
    return None if moment is None else moment.replace(tzinfo=dt.timezone.utc).isoformat()


class OwnershipBase(DeclarativeBase):
    pass


class OwnershipRecord(OwnershipBase):
    __tablename__ = "server_learnwares"

    learnware_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    uploaded_by: Mapped[str | None] = mapped_column(String(64), index=True, nullable=True)
    family: Mapped[str] = mapped_column(String(64), index=True)
    version: Mapped[int] = mapped_column(Integer, default=1)
    superseded_by: Mapped[str | None] = mapped_column(String(64), index=True, nullable=True)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)


def create_tables(engine: Engine) -> None:
    OwnershipBase.metadata.create_all(engine)


def uploader_of(state: ServerState, learnware_id: str) -> str | None:
    """The account that uploaded ``learnware_id`` (None: added outside the server, or unknown)."""
    with Session(state.dock.engine) as session:
        return session.scalar(select(OwnershipRecord.uploaded_by).where(OwnershipRecord.learnware_id == learnware_id))


def hidden_ids(state: ServerState) -> set[str]:
    """Ids of superseded learnwares (left out of search and listings by default)."""
    with Session(state.dock.engine) as session:
        return set(session.scalars(select(OwnershipRecord.learnware_id).where(OwnershipRecord.superseded_by.is_not(None))))


def listing_conditions(uploaded_by: str | None, include_superseded: bool) -> tuple[ColumnElement[bool], ...]:
    """SQL conditions on the dock's ``learnwares`` table for :meth:`Dock.list` (subqueries of this
    table, so a listing stays one statement)."""
    conditions = []
    if not include_superseded:
        superseded = select(OwnershipRecord.learnware_id).where(OwnershipRecord.superseded_by.is_not(None))
        conditions.append(LearnwareRecord.id.not_in(superseded))
    if uploaded_by is not None:
        conditions.append(LearnwareRecord.id.in_(select(OwnershipRecord.learnware_id)
                                                 .where(OwnershipRecord.uploaded_by == uploaded_by)))
    return tuple(conditions)


def with_ownership(state: ServerState, cards: list[dict]) -> list[dict]:
    """``cards`` with ``uploaded_by``, ``version``, ``family`` and ``superseded_by`` (one query)."""
    with Session(state.dock.engine) as session:
        rows = {r.learnware_id: r for r in session.scalars(
            select(OwnershipRecord).where(OwnershipRecord.learnware_id.in_([c["id"] for c in cards])))}
    return [{**card, **_ownership_fields(rows.get(card["id"]), card["id"])} for card in cards]


def _ownership_fields(row: OwnershipRecord | None, learnware_id: str) -> dict:
    if row is None:
        return {"uploaded_by": None, "version": 1, "family": learnware_id, "superseded_by": None}
    return {"uploaded_by": row.uploaded_by, "version": row.version, "family": row.family,
            "superseded_by": row.superseded_by}


def versions_of(state: ServerState, learnware_id: str) -> list[dict]:
    """The versions of ``learnware_id``'s family, oldest first: ``{"id", "version", "created_at"}``."""
    with Session(state.dock.engine) as session:
        family = session.scalar(select(OwnershipRecord.family).where(OwnershipRecord.learnware_id == learnware_id))
        if family is None:
            return [{"id": learnware_id, "version": 1, "created_at": None}]
        rows = session.scalars(select(OwnershipRecord).where(OwnershipRecord.family == family)
                               .order_by(OwnershipRecord.version))
        return [{"id": r.learnware_id, "version": r.version, "created_at": iso(r.created_at)} for r in rows]


def check_may_change(state: ServerState, principal: Principal, learnware_id: str) -> None:
    """Raise :class:`LearnwareNotFoundError` for an unknown id, :class:`PermissionDeniedError` if
    ``principal`` is neither its uploader nor an admin."""
    state.dock.card(learnware_id)
    owner = uploader_of(state, learnware_id)
    if not principal.may_change(owner):
        whose = f"{owner!r}'s" if owner else "an admin's (it was added outside the server)"
        raise PermissionDeniedError(f"learnware {learnware_id} is {whose}; only its uploader or an admin may "
                                    "delete it or publish a new version of it")


def record_upload(session: Session, learnware_id: str, user: str, replaces: str | None) -> None:
    """In ``session``'s transaction: ``learnware_id`` was uploaded by ``user``, as a new family or
    as the next version of ``replaces``'s family (whose older versions become superseded)."""
    family, version = learnware_id, 1
    if replaces is not None:
        base = session.get(OwnershipRecord, replaces)
        if base is None and session.get(LearnwareRecord, replaces) is not None:
            base = OwnershipRecord(learnware_id=replaces, uploaded_by=None, family=replaces, version=1)
            session.add(base)
            session.flush()
        if base is not None:
            family = base.family
            version = 1 + max(session.scalars(select(OwnershipRecord.version).where(OwnershipRecord.family == family)))
    session.add(OwnershipRecord(learnware_id=learnware_id, uploaded_by=user, family=family, version=version))
    session.flush()
    _relink(session, family)


def _relink(session: Session, family: str) -> None:
    """Mark every version of ``family`` but the newest superseded by it (and the newest not)."""
    latest = session.scalar(select(OwnershipRecord.learnware_id).where(OwnershipRecord.family == family)
                            .order_by(OwnershipRecord.version.desc()).limit(1))
    if latest is None:
        return
    session.execute(update(OwnershipRecord).where(OwnershipRecord.family == family,
                                                  OwnershipRecord.learnware_id != latest).values(superseded_by=latest))
    session.execute(update(OwnershipRecord).where(OwnershipRecord.learnware_id == latest).values(superseded_by=None))


def delete_learnware(state: ServerState, principal: Principal, learnware_id: str) -> None:
    """Remove a learnware (its uploader or an admin only; 404 for an unknown id, 403 otherwise,
    with nothing changed); its family's previous version becomes the latest again."""
    check_may_change(state, principal, learnware_id)
    state.dock.remove(learnware_id)
    with Session(state.dock.engine) as session:
        family = session.scalar(select(OwnershipRecord.family).where(OwnershipRecord.learnware_id == learnware_id))
        session.execute(delete(OwnershipRecord).where(OwnershipRecord.learnware_id == learnware_id))
        if family is not None:
            _relink(session, family)
        session.commit()
