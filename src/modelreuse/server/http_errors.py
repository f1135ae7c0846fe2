"""How library errors become HTTP answers: one JSON shape, ``{"error": {"type": <class name>,
"message": <text>}}``, and one status per error class (:data:`STATUS`). The remote client
(:mod:`modelreuse.dock.remote`) turns the type name back into the same library class."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from modelreuse import errors

STATUS: dict[type[errors.ModelReuseError], int] = {
    errors.AuthenticationError: 401,
    errors.PermissionDeniedError: 403,
    errors.LearnwareNotFoundError: 404,
    errors.UploadNotFoundError: 404,
    errors.DockNotFoundError: 404,
    errors.EmptyDockError: 404,
    errors.NothingFitsError: 404,
    errors.DuplicateLearnwareError: 409,
    errors.AccountExistsError: 409,
    errors.PayloadTooLargeError: 413,
    errors.RateLimitError: 429,
}
"""Status of each error class (the first match along the class's MRO); every other
:class:`~modelreuse.errors.ModelReuseError` is bad input, 422."""


def public_message(exc: BaseException | str, dock_root: Path) -> str:
    """An error's message as clients see it: the server's own folders (the dock root, and the
    staging and check folders under it) are shown as ``<dock>``, never as absolute paths."""
    return str(exc).replace(str(dock_root), "<dock>")


def status_of(exc: errors.ModelReuseError) -> int:
    for cls in type(exc).__mro__:
        if cls in STATUS:
            return STATUS[cls]
    return 422


def error_response(status: int, type_name: str, message: str) -> JSONResponse:
    headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
    return JSONResponse({"error": {"type": type_name, "message": message}}, status_code=status, headers=headers)


def install(app: FastAPI) -> None:
    """Register the handlers on ``app``: library errors, request validation (422) and HTTP errors
    raised by routing (404 for an unknown path, 405) all answer in the one JSON shape."""

    @app.exception_handler(errors.ModelReuseError)
    async def _library(request: Request, exc: errors.ModelReuseError) -> JSONResponse:
        message = public_message(exc, request.app.state.modelreuse.dock.root)
        return error_response(status_of(exc), type(exc).__name__, message)

    @app.exception_handler(RequestValidationError)
    async def _validation(_: Request, exc: RequestValidationError) -> JSONResponse:
        message = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
        return error_response(422, "RequestValidationError", message)

    @app.exception_handler(StarletteHTTPException)
    async def _http(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        return error_response(exc.status_code, "HTTPError", str(exc.detail))
