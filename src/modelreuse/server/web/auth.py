"""Logging in and out, and making API tokens. The server has no passwords: a person logs in by
pasting an API token (``modelreuse token create``, or one made on the tokens page), which the
browser then keeps in the HttpOnly, ``SameSite=Strict`` session cookie."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Form, Request, Response

from modelreuse.errors import AuthenticationError, PermissionDeniedError
from modelreuse.server.accounts import SCOPES, Principal
from modelreuse.server.deps import ServerState, require_account, server_state
from modelreuse.server.web._pages import SESSION_COOKIE, PageRoute, check_csrf, redirect, render

router = APIRouter(route_class=PageRoute, include_in_schema=False)


def _local(next_url: str) -> str:
    """``next_url`` if it is a path on this site, else ``/`` (no open redirect after login)."""
    return next_url if next_url.startswith("/") and not next_url.startswith(("//", "/\\")) else "/"


@router.get("/login")
def login_form(request: Request, next: str = "/") -> Response:
    return render(request, "login.html", next=_local(next))


@router.post("/login", dependencies=[Depends(check_csrf)])
def login(request: Request, token: str = Form(""), next: str = Form("/"),
          state: ServerState = Depends(server_state)) -> Response:
    """Check the token and keep it in the session cookie; a wrong one shows the form again (401)."""
    token = token.strip()
    try:
        state.accounts.authenticate(token)
    except AuthenticationError as exc:
        return render(request, "login.html", status_code=401, next=_local(next), problem=str(exc))
    response = redirect(_local(next))
    response.set_cookie(SESSION_COOKIE, token, httponly=True, samesite="strict")
    return response


@router.post("/logout", dependencies=[Depends(check_csrf)])
def logout() -> Response:
    response = redirect("/")
    response.delete_cookie(SESSION_COOKIE, httponly=True, samesite="strict")
    return response


@router.get("/tokens")
def tokens_form(request: Request, me: Principal = Depends(require_account("read"))) -> Response:
    return render(request, "tokens.html", me=me, scopes=_grantable(me))


@router.post("/tokens", dependencies=[Depends(check_csrf)])
def create_token(request: Request, scopes: list[str] = Form([]), label: str = Form(""),
                 me: Principal = Depends(require_account("read")), state: ServerState = Depends(server_state)) -> Response:
    """A new token for the logged-in user, shown once on the answer page (only its hash is stored)."""
    too_large = [s for s in scopes if s in SCOPES and not me.has(s)]
    if too_large:
        raise PermissionDeniedError(f"a token cannot grant {too_large}: yours has only {sorted(me.scopes)}")
    token = state.accounts.create_token(me.user, scopes, label=label.strip())
    return render(request, "tokens.html", me=me, scopes=_grantable(me), new_token=token, new_scopes=scopes,
                  new_label=label.strip())


def _grantable(me: Principal) -> list[str]:
    return [s for s in SCOPES if me.has(s)]
