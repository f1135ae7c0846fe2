"""What every endpoint shares: the server's state (settings, dock, accounts) and who the request
acts as. Endpoints declare ``principal: Principal = Depends(require("write"))`` (or ``"read"``,
``"admin"``) and ``state: ServerState = Depends(server_state)``."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from fastapi import Request

from modelreuse.dock.dock import Dock
from modelreuse.errors import AuthenticationError, PermissionDeniedError
from modelreuse.server.accounts import Accounts, Principal
from modelreuse.server.settings import ServerSettings

ANONYMOUS = Principal(user="", scopes=frozenset({"read"}))
"""Who an untokened request acts as when the server allows anonymous reading."""


@dataclass
class ServerState:
    """One server process's long-lived objects. ``extras`` holds what feature modules keep between
    requests (the upload queue, loaded routers, metrics), each under its module's name."""

    settings: ServerSettings
    dock: Dock
    accounts: Accounts
    extras: dict[str, Any] = field(default_factory=dict)


def server_state(request: Request) -> ServerState:
    return request.app.state.modelreuse


def bearer_token(request: Request) -> str | None:
    """The token of an ``Authorization: Bearer <token>`` header, else of the web pages' cookie."""
    header = request.headers.get("authorization", "")
    if header:
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise AuthenticationError("the Authorization header must be 'Bearer <token>'")
        return token.strip()
    return request.cookies.get("modelreuse_token") or None


def current_principal(request: Request) -> Principal | None:
    """The request's principal, or ``None`` without a token (a bad token raises 401)."""
    token = bearer_token(request)
    return None if token is None else server_state(request).accounts.authenticate(token)


def require(scope: str) -> Callable[[Request], Principal]:
    """A dependency that yields the request's principal if it has ``scope``: no token is 401 (or
    :data:`ANONYMOUS` for ``read`` on a server with anonymous reading), too small a scope 403."""

    def dependency(request: Request) -> Principal:
        principal = current_principal(request)
        if principal is None:
            if scope == "read" and server_state(request).settings.anonymous_read:
                return ANONYMOUS
            raise AuthenticationError(f"this request needs a token with the {scope!r} scope")
        if not principal.has(scope):
            raise PermissionDeniedError(f"this request needs the {scope!r} scope; the token has {sorted(principal.scopes)}")
        return principal

    return dependency


def require_account(scope: str = "read") -> Callable[[Request], Principal]:
    """Like :func:`require`, but anonymous reading does not count: the request is about the
    caller's own account (uploads, tokens), so it must carry a token (401 otherwise)."""
    inner = require(scope)

    def dependency(request: Request) -> Principal:
        principal = inner(request)
        if principal is ANONYMOUS:
            raise AuthenticationError("this request is about your account; send your token (Authorization: Bearer ...)")
        return principal

    return dependency
