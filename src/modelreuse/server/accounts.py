"""Users and API tokens of a dock server, in the dock's own database (SQLite or PostgreSQL).

A token is ``mrt_`` followed by 32 random bytes (URL-safe base64), shown once when created. Only its
SHA-256 is stored: tokens are long random secrets, not passwords, so a fast unsalted hash is enough
to make a leaked table useless (the scheme GitHub and PyPI use for API tokens). Scopes nest:
``admin`` implies ``write``, which implies ``read``. Admin tokens may act on every learnware;
others only on their user's own.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
import secrets
from dataclasses import dataclass

from sqlalchemy import JSON, Boolean, DateTime, ForeignKey, Integer, String, select, update
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column

from modelreuse.errors import AccountExistsError, AuthenticationError, UnknownNameError

SCOPES = ("read", "write", "admin")
TOKEN_PREFIX = "mrt_"
USER_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")


class AccountsBase(DeclarativeBase):
    pass


class UserRecord(AccountsBase):
    __tablename__ = "server_users"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    is_admin: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=lambda: dt.datetime.now(dt.timezone.utc))


class TokenRecord(AccountsBase):
    __tablename__ = "server_tokens"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("server_users.id"), index=True)
    token_sha256: Mapped[str] = mapped_column(String(64), unique=True)
    scopes: Mapped[list] = mapped_column(JSON)
    label: Mapped[str] = mapped_column(String(200), default="")
    revoked: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=lambda: dt.datetime.now(dt.timezone.utc))


@dataclass(frozen=True)
class Principal:
    """Who a request acts as: the user and the scopes of the token it carried."""

    user: str
    scopes: frozenset[str]
    is_admin: bool = False

    def has(self, scope: str) -> bool:
        """Whether the token grants ``scope`` (scopes nest: admin > write > read)."""
        return SCOPES.index(scope) <= max(SCOPES.index(s) for s in self.scopes)

    def may_change(self, owner: str | None) -> bool:
        """Whether this principal may delete or re-version a learnware uploaded by ``owner``."""
        return self.has("admin") or (self.has("write") and owner == self.user)


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _check_scopes(scopes: list[str] | tuple[str, ...]) -> list[str]:
    unknown = sorted(set(scopes) - set(SCOPES))
    if unknown or not scopes:
        raise UnknownNameError(f"unknown or missing scope(s) {unknown}; choose from {', '.join(SCOPES)}")
    return sorted(set(scopes), key=SCOPES.index)


class Accounts:
    """The user and token tables on ``engine`` (created if missing)."""

    def __init__(self, engine: Engine):
        self.engine = engine
        AccountsBase.metadata.create_all(engine)

    def create_user(self, name: str, *, admin: bool = False) -> None:
        """Add a user; a name in use raises :class:`AccountExistsError`."""
        if not USER_NAME.match(name):
            raise UnknownNameError(f"user name {name!r} must be 1-64 letters, digits, '_', '.' or '-'")
        with Session(self.engine) as session:
            session.add(UserRecord(name=name, is_admin=admin))
            try:
                session.commit()
            except IntegrityError:
                raise AccountExistsError(f"user {name!r} already exists") from None

    def create_token(self, user: str, scopes: list[str] | tuple[str, ...] = ("read",), label: str = "") -> str:
        """A new token for ``user`` with ``scopes``; the raw token is returned once and never stored.
        Only admins get the ``admin`` scope."""
        scopes = _check_scopes(scopes)
        token = TOKEN_PREFIX + secrets.token_urlsafe(32)
        with Session(self.engine) as session:
            record = self._user(session, user)
            if "admin" in scopes and not record.is_admin:
                raise AuthenticationError(f"user {user!r} is not an admin; an admin token needs an admin user")
            session.add(TokenRecord(user_id=record.id, token_sha256=_digest(token), scopes=scopes, label=label))
            session.commit()
        return token

    def revoke(self, token: str) -> None:
        with Session(self.engine) as session:
            session.execute(update(TokenRecord).where(TokenRecord.token_sha256 == _digest(token)).values(revoked=True))
            session.commit()

    def authenticate(self, token: str) -> Principal:
        """The principal of a raw token; :class:`AuthenticationError` if it is unknown or revoked."""
        if not token.startswith(TOKEN_PREFIX) or len(token) > 128:
            raise AuthenticationError("malformed token; tokens start with 'mrt_' (create one with `modelreuse token create`)")
        with Session(self.engine) as session:
            row = session.execute(select(TokenRecord, UserRecord).join(UserRecord, UserRecord.id == TokenRecord.user_id)
                                  .where(TokenRecord.token_sha256 == _digest(token))).first()
        if row is None or row[0].revoked:
            raise AuthenticationError("unknown or revoked token")
        return Principal(user=row[1].name, scopes=frozenset(row[0].scopes), is_admin=row[1].is_admin)

    def users(self) -> list[dict]:
        with Session(self.engine) as session:
            return [{"name": u.name, "is_admin": u.is_admin} for u in session.scalars(select(UserRecord).order_by(UserRecord.id))]

    @staticmethod
    def _user(session: Session, name: str) -> UserRecord:
        record = session.scalar(select(UserRecord).where(UserRecord.name == name))
        if record is None:
            raise UnknownNameError(f"no user {name!r}; create it with `modelreuse user create {name}`")
        return record
