"""Metadata store: one table of learnware cards, via SQLAlchemy (SQLite or PostgreSQL).

Columns derived from the manifest (:func:`derived_columns`: feature space, encoder, spec kinds,
table schema) let a listing, a search's candidate set and a table's schema match be read without
decoding any manifest, so a new process searching N learnwares decodes no JSON per learnware.

Schema upgrades happen when a dock is opened (:func:`make_engine`): a ``learnwares`` table from an
older version without a derived column gets it, filled from each row's manifest, as do rows whose
``feature_space`` is empty.
"""

from __future__ import annotations

import datetime as dt
import json

from sqlalchemy import (
    JSON,
    DateTime,
    Integer,
    String,
    Text,
    create_engine,
    func,
    insert,
    inspect,
    or_,
    select,
    text,
    update,
)
from sqlalchemy.engine import Connection, Engine, Row
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column

from modelreuse.dock.locking import DockLock
from modelreuse.task import feature_space_key


class Base(DeclarativeBase):
    pass


class LearnwareRecord(Base):
    """One submitted learnware: its card fields (for filtering) and full manifest."""

    __tablename__ = "learnwares"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(200), index=True)
    description: Mapped[str] = mapped_column(Text, default="")
    tags: Mapped[list] = mapped_column(JSON, default=list)
    task_type: Mapped[str] = mapped_column(String(32), index=True)
    modality: Mapped[str] = mapped_column(String(32), index=True)
    owner: Mapped[str] = mapped_column(String(200), default="unknown")
    licence: Mapped[str] = mapped_column(String(200), default="unspecified")
    feature_space: Mapped[str] = mapped_column(String(64), index=True)
    encoder: Mapped[str | None] = mapped_column(String(200), nullable=True)
    spec_kinds: Mapped[list | None] = mapped_column(JSON, nullable=True)
    table_schema: Mapped[str | None] = mapped_column(Text, nullable=True)
    n_features: Mapped[int] = mapped_column(Integer)
    package_sha256: Mapped[str] = mapped_column(String(64))
    manifest: Mapped[dict] = mapped_column(JSON)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=lambda: dt.datetime.now(dt.timezone.utc))

    def card(self) -> dict:
        """The fields a user sees in listings."""
        return card_of(self)


#: The columns a card is made of (:func:`card_of`), selected without the manifest for listings.
CARD_COLUMNS = tuple(LearnwareRecord.__table__.c[name] for name in (
    "id", "name", "description", "tags", "task_type", "modality", "owner", "licence", "n_features", "encoder",
    "feature_space", "spec_kinds", "created_at"))


def card_of(row: LearnwareRecord | Row) -> dict:
    """The card of a record, or of a row selected with :data:`CARD_COLUMNS` (no manifest decoded)."""
    return {
        "id": row.id, "name": row.name, "description": row.description, "tags": list(row.tags or []),
        "task_type": row.task_type, "modality": row.modality, "owner": row.owner, "licence": row.licence,
        "n_features": row.n_features, "encoder": row.encoder, "feature_space": row.feature_space,
        "spec_kinds": list(row.spec_kinds or []),
        "created_at": row.created_at.isoformat() if row.created_at else None,
    }


class DockMeta(Base):
    """Key/value table; ``revision`` increases on every change so caches know when to rebuild."""

    __tablename__ = "dock_meta"

    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[int] = mapped_column(Integer, default=0)


SQLITE_BUSY_TIMEOUT_S = 60
_SCHEMA_LOCK_KEY = 0x6D6F64656C  # PostgreSQL advisory-lock key of schema creation ("model")


def make_engine(url: str, lock: DockLock) -> Engine:
    """An engine on ``url`` with the tables created, safe when many processes open a new dock at once.

    Creation runs under the dock's file lock (processes sharing one root) and, on PostgreSQL, under a
    transaction-scoped advisory lock (processes sharing one database from different roots). SQLite
    connections wait up to :data:`SQLITE_BUSY_TIMEOUT_S` for a concurrent writer instead of failing.
    """
    sqlite = url.startswith("sqlite")
    engine = create_engine(url, future=True, connect_args={"timeout": SQLITE_BUSY_TIMEOUT_S} if sqlite else {})
    with lock, engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _SCHEMA_LOCK_KEY})
        Base.metadata.create_all(conn)
        _upgrade(conn)
        if conn.scalar(select(DockMeta.value).where(DockMeta.key == "revision")) is None:
            conn.execute(insert(DockMeta).values(key="revision", value=0))
    return engine


def derived_columns(manifest: dict) -> dict:
    """The columns a record derives from its manifest (a manifest as JSON data): ``feature_space``
    (:func:`modelreuse.task.feature_space_key`), ``encoder``, ``spec_kinds`` and ``table_schema``
    (the input table schema as canonical JSON text, so equal schemas compare equal in SQL)."""
    schema = manifest.get("input_schema") or {}
    table = schema.get("table")
    return {
        "feature_space": feature_space_key(schema["n_features"], schema.get("feature_names"), schema.get("encoder")),
        "encoder": schema.get("encoder"),
        "spec_kinds": [s["kind"] for s in manifest.get("specs", [])],
        "table_schema": None if table is None else json.dumps(table, sort_keys=True, separators=(",", ":")),
    }


def table_schema_rows(engine: Engine, task_type: str | None = None) -> list[tuple[str, str, int, str]]:
    """``(feature_space, table_schema JSON, learnwares, one learnware's name)`` per distinct table
    schema in the dock (of ``task_type``), in dock order of first appearance: one grouped query."""
    t = LearnwareRecord.__table__
    stmt = (select(t.c.feature_space, t.c.table_schema, func.count(), func.min(t.c.name))
            .where(t.c.table_schema.is_not(None), *([t.c.task_type == task_type] if task_type else []))
            .group_by(t.c.feature_space, t.c.table_schema)
            .order_by(func.min(t.c.created_at)))
    with engine.connect() as conn:
        return [tuple(row) for row in conn.execute(stmt)]


def _upgrade(conn: Connection) -> None:
    """Bring a table made by an older version up to this schema (module doc): add the derived
    columns it lacks and fill them from each row's manifest."""
    table = LearnwareRecord.__table__
    have = {c["name"] for c in inspect(conn).get_columns("learnwares")}
    for name in ("feature_space", "encoder", "spec_kinds", "table_schema"):
        if name not in have:
            kind = table.c[name].type.compile(dialect=conn.dialect)
            conn.execute(text(f"ALTER TABLE learnwares ADD COLUMN {name} {kind}"))
    conn.execute(text("CREATE INDEX IF NOT EXISTS ix_learnwares_feature_space ON learnwares (feature_space)"))
    stale = or_(table.c.feature_space.is_(None), table.c.feature_space == "", table.c.spec_kinds.is_(None))
    for row_id, manifest in conn.execute(select(table.c.id, table.c.manifest).where(stale)).all():
        conn.execute(update(table).where(table.c.id == row_id).values(**derived_columns(manifest)))


def bump_revision(session: Session) -> None:
    """Increase the revision in the session's transaction (one atomic UPDATE)."""
    session.execute(update(DockMeta).where(DockMeta.key == "revision").values(value=DockMeta.value + 1))


def current_revision(session: Session | Connection) -> int:
    """The dock's revision, read with an ORM session or a plain (lighter) core connection."""
    value = session.scalar(select(DockMeta.value).where(DockMeta.key == "revision"))
    return int(value or 0)
