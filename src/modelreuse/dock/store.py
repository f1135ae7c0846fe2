"""Metadata store: one table of learnware cards, via SQLAlchemy (SQLite or PostgreSQL)."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import JSON, DateTime, Integer, String, Text, create_engine, select
from sqlalchemy.engine import Engine
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column


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
            "created_at": self.created_at.isoformat() if self.created_at else None,
        }


class DockMeta(Base):
    """Key/value table; ``revision`` increases on every change so caches know when to rebuild."""

    __tablename__ = "dock_meta"

    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[int] = mapped_column(Integer, default=0)


def make_engine(url: str) -> Engine:
    engine = create_engine(url, future=True)
    Base.metadata.create_all(engine)
    return engine


def bump_revision(session: Session) -> None:
    meta = session.get(DockMeta, "revision")
    if meta is None:
        session.add(DockMeta(key="revision", value=1))
    else:
        meta.value += 1


def current_revision(session: Session) -> int:
    value = session.scalar(select(DockMeta.value).where(DockMeta.key == "revision"))
    return int(value or 0)
