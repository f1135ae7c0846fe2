"""``/learnwares``: list and filter cards (paged in SQL), get one learnware's card, manifest and
versions, download its package, delete it (its uploader or an admin)."""

from __future__ import annotations

import os
from collections.abc import Iterator

from fastapi import APIRouter, Depends, Query, Response
from fastapi.responses import StreamingResponse
from sqlalchemy import select
from sqlalchemy.orm import Session

from modelreuse.dock.store import LearnwareRecord
from modelreuse.errors import LearnwareNotFoundError
from modelreuse.server import ownership
from modelreuse.server.accounts import Principal
from modelreuse.server.deps import ServerState, require, server_state
from modelreuse.server.schemas import Card, CardPage, LearnwareDetail

router = APIRouter(tags=["learnwares"])

MAX_PAGE = 500
CHUNK_BYTES = 1 << 16


@router.get("/learnwares", response_model=CardPage)
def list_learnwares(task_type: str | None = None, modality: str | None = None, owner: str | None = None,
                    licence: str | None = None, feature_space: str | None = None, n_features: int | None = None,
                    tag: str | None = None, uploaded_by: str | None = None,
                    include_superseded: bool = Query(False, description="also list older versions"),
                    limit: int = Query(50, ge=1, le=MAX_PAGE), offset: int = Query(0, ge=0),
                    _: Principal = Depends(require("read")),
                    state: ServerState = Depends(server_state)) -> CardPage:
    """Cards matching exact-value filters, in dock order (oldest first), one page at a time;
    ``owner`` is the manifest's self-declared owner, ``uploaded_by`` the account that uploaded it."""
    filters = {"task_type": task_type, "modality": modality, "owner": owner, "licence": licence,
               "feature_space": feature_space, "n_features": n_features, "tag": tag}
    where = ownership.listing_conditions(uploaded_by, include_superseded)
    cards = state.dock.list(limit=limit, offset=offset, where=where, **filters)
    return CardPage(items=[Card(**c) for c in ownership.with_ownership(state, cards)],
                    total=state.dock.count(where=where, **filters), limit=limit, offset=offset)


@router.get("/learnwares/{learnware_id}", response_model=LearnwareDetail, responses={404: {"description": "unknown id"}})
def get_learnware(learnware_id: str, _: Principal = Depends(require("read")),
                  state: ServerState = Depends(server_state)) -> LearnwareDetail:
    """One learnware's card, manifest and the versions of its family."""
    (card,) = ownership.with_ownership(state, [state.dock.card(learnware_id)])
    return LearnwareDetail(**card, versions=ownership.versions_of(state, learnware_id))


@router.get("/learnwares/{learnware_id}/package", response_class=StreamingResponse,
            responses={200: {"content": {"application/zip": {}}}, 404: {"description": "unknown id"}})
def download(learnware_id: str, _: Principal = Depends(require("read")),
             state: ServerState = Depends(server_state)) -> StreamingResponse:
    """The stored package: the canonical zip whose SHA-256 starts with the learnware's id."""
    with Session(state.dock.engine) as session:
        sha = session.scalar(select(LearnwareRecord.package_sha256).where(LearnwareRecord.id == learnware_id))
    try:  # opened now: a removal after this point cannot cut the download short
        handle = open(state.dock.artifacts.object_path(sha), "rb") if sha else None
    except FileNotFoundError:
        handle = None
    if handle is None:
        raise LearnwareNotFoundError(f"no learnware with id {learnware_id!r} in this dock")
    size = os.fstat(handle.fileno()).st_size
    return StreamingResponse(_read(handle), media_type="application/zip",
                             headers={"Content-Length": str(size),
                                      "Content-Disposition": f'attachment; filename="{learnware_id}.zip"'})


def _read(handle) -> Iterator[bytes]:
    with handle:
        while chunk := handle.read(CHUNK_BYTES):
            yield chunk


@router.delete("/learnwares/{learnware_id}", status_code=204, response_class=Response,
               responses={403: {"description": "not its uploader"}, 404: {"description": "unknown id"}})
def delete(learnware_id: str, principal: Principal = Depends(require("write")),
           state: ServerState = Depends(server_state)) -> Response:
    """Remove a learnware (its uploader or an admin); the previous version becomes the latest."""
    ownership.delete_learnware(state, principal, learnware_id)
    return Response(status_code=204)
