"""What every web page shares: the Jinja2 templates (autoescaped: names, descriptions and tags come
from uploaded packages and are untrusted), who is looking, CSRF tokens for forms, and error pages.

Sessions: the browser keeps the user's API token in the HttpOnly, ``SameSite=Strict`` cookie
``modelreuse_token`` (read by :func:`modelreuse.server.deps.bearer_token`, so pages and API share one
authentication). Every POST form carries a CSRF token, the HMAC-SHA256 of a ``basis`` cookie: the
session token once logged in, else a random pre-session cookie set with the first page (so the
login and search forms are covered too). A cross-site page cannot read either cookie, so it cannot
forge the field; a POST without the right one is refused with 403 before anything else happens.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any
from urllib.parse import quote

from fastapi import Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import RedirectResponse
from fastapi.routing import APIRoute
from fastapi.templating import Jinja2Templates
from starlette.exceptions import HTTPException

from modelreuse.errors import AuthenticationError, ModelReuseError, PayloadTooLargeError, PermissionDeniedError
from modelreuse.server.accounts import Principal
from modelreuse.server.deps import current_principal, server_state
from modelreuse.server.http_errors import public_message, status_of

SESSION_COOKIE = "modelreuse_token"
PRESESSION_COOKIE = "modelreuse_presession"
CSRF_FIELD = "csrf_token"
_CSRF_MESSAGE = b"modelreuse web form"

TEMPLATES = Jinja2Templates(directory=Path(__file__).resolve().parents[1] / "templates")
TEMPLATES.env.autoescape = True  # every template, whatever its suffix


def _when(iso_time: str | None) -> str:
    """An ISO 8601 UTC time as ``YYYY-MM-DD HH:MM UTC`` (``–`` when unknown)."""
    return f"{iso_time[:10]} {iso_time[11:16]} UTC" if iso_time else "–"


TEMPLATES.env.filters["when"] = _when


def viewer(request: Request) -> Principal | None:
    """The logged-in principal, or ``None`` (also for a stale cookie: the page then offers a login)."""
    try:
        return current_principal(request)
    except AuthenticationError:
        return None


def _basis(request: Request) -> str | None:
    return request.cookies.get(SESSION_COOKIE) or request.cookies.get(PRESESSION_COOKIE)


def _csrf(basis: str) -> str:
    return hmac.new(basis.encode(), _CSRF_MESSAGE, hashlib.sha256).hexdigest()


async def check_csrf(request: Request) -> None:
    """Dependency of every POST page: 403 unless the form's ``csrf_token`` matches the cookies."""
    basis = _basis(request)
    sent = (await request.form()).get(CSRF_FIELD)
    if basis is None or not isinstance(sent, str) or not hmac.compare_digest(sent, _csrf(basis)):
        raise PermissionDeniedError("the form's CSRF token is missing or stale; reload the page and submit it again")


def render(request: Request, template: str, status_code: int = 200, **context: Any) -> Response:
    """``template`` with ``context``, the viewer and a CSRF token for its forms (a first visit also
    gets the pre-session cookie the token is made from)."""
    basis = _basis(request)
    presession = None if basis else secrets.token_urlsafe(32)
    context.setdefault("me", viewer(request))
    response = TEMPLATES.TemplateResponse(request, template, {**context, "csrf_token": _csrf(basis or presession)},
                                          status_code=status_code)
    if presession:
        response.set_cookie(PRESESSION_COOKIE, presession, httponly=True, samesite="strict")
    return response


def redirect(url: str) -> RedirectResponse:
    """After a successful POST: 303, so reloading the next page does not repeat the POST."""
    return RedirectResponse(url, status_code=303)


def login_url(request: Request) -> str:
    """``/login`` that comes back to this page afterwards."""
    return f"/login?next={quote(request.url.path)}"


def error_page(request: Request, status: int, type_name: str, message: str) -> Response:
    return render(request, "error.html", status_code=status, status=status, error_type=type_name,
                  message=message, login=login_url(request))


def _check_length(request: Request) -> None:
    """Refuse a POST body larger than the largest upload the server accepts before it is read (the
    form parser would spool it to disk first). Uvicorn holds a body to its ``Content-Length``, so
    checking the header is enough; bodies without one (chunked) are refused: browsers always send it."""
    if request.method != "POST":
        return
    declared = request.headers.get("content-length")
    if declared is None or not declared.isdigit():
        raise HTTPException(411, "a form POST needs a Content-Length header")
    limit = server_state(request).settings.max_upload_bytes
    if int(declared) > limit:
        raise PayloadTooLargeError(f"the form is {int(declared):,} bytes; this server accepts at most {limit:,}")


class PageRoute(APIRoute):
    """A page route: errors are a readable HTML page (the library error's type and message, the
    status of :data:`modelreuse.server.http_errors.STATUS`) instead of the API's JSON, and a POST
    larger than the server's upload limit is refused before its body is read."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def route(request: Request) -> Response:
            try:
                _check_length(request)
                return await handler(request)
            except ModelReuseError as exc:
                return error_page(request, status_of(exc), type(exc).__name__,
                                  public_message(exc, request.app.state.modelreuse.dock.root))
            except RequestValidationError as exc:
                message = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
                return error_page(request, 422, "RequestValidationError", message)
            except HTTPException as exc:
                return error_page(request, exc.status_code, "HTTPError", str(exc.detail))

        return route
