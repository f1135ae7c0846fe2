"""Submitting learnwares from the browser: the upload form (a learnware zip, optionally as the next
version of one's own learnware), the upload's status page (``pending`` → ``validating`` →
``verified`` | ``rejected`` with the reason; it reloads itself until the sandbox has decided) and
"my learnwares". Uploads go through :func:`modelreuse.server.uploads.submit_upload`, the function
behind ``POST /api/v1/uploads``."""

from __future__ import annotations

from fastapi import APIRouter, Depends, File, Form, Request, Response, UploadFile

from modelreuse.server.accounts import Principal
from modelreuse.server.deps import ServerState, require_account, server_state
from modelreuse.server.ownership import listing_conditions, with_ownership
from modelreuse.server.uploads import submit_upload, uploads_of, visible_upload
from modelreuse.server.web._pages import PageRoute, check_csrf, redirect, render

router = APIRouter(route_class=PageRoute, include_in_schema=False)

OPEN_STATES = ("pending", "validating")
REFRESH_S = 2


@router.get("/submit")
def submit_form(request: Request, replaces: str = "", me: Principal = Depends(require_account("write"))) -> Response:
    return render(request, "submit.html", replaces=replaces)


@router.post("/submit", dependencies=[Depends(check_csrf)])
def submit(package: UploadFile = File(...), replaces: str = Form(""), me: Principal = Depends(require_account("write")),
           state: ServerState = Depends(server_state)) -> Response:
    """Queue the zip for sandboxed validation and show its status page."""
    status = submit_upload(state, me, package.file, replaces.strip() or None)
    return redirect(f"/uploads/{status.upload_id}")


@router.get("/uploads/{upload_id}")
def upload_page(request: Request, upload_id: str, me: Principal = Depends(require_account()),
                state: ServerState = Depends(server_state)) -> Response:
    upload = visible_upload(state, me, upload_id)
    return render(request, "upload.html", upload=upload, refresh=REFRESH_S if upload.status in OPEN_STATES else None)


@router.get("/mine")
def mine(request: Request, deleted: str = "", me: Principal = Depends(require_account()),
         state: ServerState = Depends(server_state)) -> Response:
    """The user's learnwares (every version) and uploads, newest first."""
    cards = state.dock.list(where=listing_conditions(me.user, include_superseded=True))
    return render(request, "mine.html", learnwares=with_ownership(state, cards)[::-1], uploads=uploads_of(state, me.user),
                  deleted=deleted)
