"""Metadata store: one table of learnware cards, via SQLAlchemy (SQLite or PostgreSQL).

Schema upgrades happen when a dock is opened (:func:`make_engine`): a ``learnwares`` table from an
older version without the ``feature_space`` column gets it, filled from each row's manifest
(:func:`modelreuse.task.feature_space_key`), as do rows whose key is empty.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import JSON, DateTime, Integer, String, Text, create_engine, insert, inspect, or_, select, text, update
from sqlalchemy.engine import Connection, Engine
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
    n_features: Mapped[int] = mapped_column(Integer)
    package_sha256: Mapped[str] = mapped_column(String(64))
    manifest: Mapped[dict] = mapped_column(JSON)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=lambda: dt.datetime.now(dt.timezone.utc))

    def card(self) -> dict:
        """The fields a user sees in listings."""
        return {
            "id": self.id, "name": self.name, "description": self.description, "tags": list(self.tags or []),
            "task_type": self.task_type, "modality": self.modality, "owner": self.owner,
            "licence": self.licence, "n_features": self.n_features,
            "encoder": (self.manifest.get("input_schema") or {}).get("encoder"),
            "feature_space": self.feature_space, "spec_kinds": [s["kind"] for s in self.manifest.get("specs", [])],
            "created_at": self.created_at.isoformat() if self.created_at else None,
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


def _upgrade(conn: Connection) -> None:
    """Bring a table made by an older version up to this schema (module doc)."""
    if "feature_space" not in {c["name"] for c in inspect(conn).get_columns("learnwares")}:
        conn.execute(text("ALTER TABLE learnwares ADD COLUMN feature_space VARCHAR(64)"))
        conn.execute(text("CREATE INDEX IF NOT EXISTS ix_learnwares_feature_space ON learnwares (feature_space)"))
    table = LearnwareRecord.__table__
    missing = select(table.c.id, table.c.manifest).where(or_(table.c.feature_space.is_(None), table.c.feature_space == ""))
    for row_id, manifest in conn.execute(missing).all():
        schema = manifest["input_schema"]
        key = feature_space_key(schema["n_features"], schema.get("feature_names"), schema.get("encoder"))
        conn.execute(update(table).where(table.c.id == row_id).values(feature_space=key))


def bump_revision(session: Session) -> None:
    """Increase the revision in the session's transaction (one atomic UPDATE)."""
    session.execute(update(DockMeta).where(DockMeta.key == "revision").values(value=DockMeta.value + 1))


def current_revision(session: Session | Connection) -> int:
    """The dock's revision, read with an ORM session or a plain (lighter) core connection."""
    value = session.scalar(select(DockMeta.value).where(DockMeta.key == "revision"))
    return int(value or 0)
