"""``/uploads``: submit a learnware zip to the validation queue and follow its status.

The body is the raw zip (``Content-Type: application/zip``), streamed to disk in chunks; see
:mod:`modelreuse.server.uploads` for the checks and the queue. This module also starts and stops
the process's validation workers.
"""

from __future__ import annotations

from fastapi import APIRouter, Depends, Query, Request
from starlette.concurrency import run_in_threadpool

from modelreuse.server import uploads
from modelreuse.server.accounts import Principal
from modelreuse.server.deps import ServerState, require, require_account, server_state
from modelreuse.server.schemas import UploadStatus
from modelreuse.server.validation_worker import ValidationWorkers

router = APIRouter(tags=["uploads"])

ERRORS = {401: {"description": "no token"}, 403: {"description": "not the replaced learnware's uploader"},
          409: {"description": "already in the dock"}, 413: {"description": "larger than the server's limit"},
          422: {"description": "not a learnware zip, or a malformed or unsafe package"}}


def start(state: ServerState) -> None:
    workers = state.extras["uploads"] = ValidationWorkers(state)
    workers.start()


def stop(state: ServerState) -> None:
    state.extras.pop("uploads").stop()


@router.post("/uploads", status_code=202, response_model=UploadStatus, responses=ERRORS,
             openapi_extra={"requestBody": {"required": True,
                                            "content": {"application/zip": {"schema": {"type": "string",
                                                                                       "format": "binary"}}}}})
async def post_upload(request: Request,
                      replaces: str | None = Query(None, max_length=64,
                                                   description="id of one's own learnware this is a new version of"),
                      principal: Principal = Depends(require("write")),
                      state: ServerState = Depends(server_state)) -> UploadStatus:
    """Queue a learnware zip for sandboxed validation; poll ``GET /uploads/{upload_id}``."""
    uploads.check_declared_size(state, request.headers.get("content-length"))
    await run_in_threadpool(uploads.check_replaces, state, principal, replaces)
    with uploads.incoming(state) as upload:
        async for chunk in request.stream():
            upload.write(chunk)  # local disk, one chunk at a time
        return await run_in_threadpool(uploads.enqueue, state, principal, upload, replaces)


@router.get("/uploads", response_model=list[UploadStatus])
def list_uploads(principal: Principal = Depends(require_account()),
                 state: ServerState = Depends(server_state)) -> list[UploadStatus]:
    """The caller's uploads, newest first."""
    return uploads.uploads_of(state, principal.user)


@router.get("/uploads/{upload_id}", response_model=UploadStatus)
def get_upload(upload_id: str, principal: Principal = Depends(require_account()),
               state: ServerState = Depends(server_state)) -> UploadStatus:
    """One upload's status (its uploader or an admin)."""
    return uploads.visible_upload(state, principal, upload_id)
