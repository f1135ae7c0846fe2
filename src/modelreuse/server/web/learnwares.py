"""A learnware's page: its card, input and output schema, specs (kinds and sizes), versions, a
download link (the REST API's package endpoint) and, for its uploader or an admin, a delete button."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request, Response

from modelreuse.server.accounts import Principal
from modelreuse.server.deps import ServerState, require, require_account, server_state
from modelreuse.server.ownership import delete_learnware, versions_of, with_ownership
from modelreuse.server.web._pages import PageRoute, check_csrf, redirect, render, viewer

router = APIRouter(route_class=PageRoute, include_in_schema=False)


def _files(state: ServerState, learnware_id: str) -> dict[str, int]:
    """Size in bytes of each file of the stored package."""
    root = state.dock.get(learnware_id).root
    return {path.relative_to(root).as_posix(): path.stat().st_size for path in root.rglob("*") if path.is_file()}


@router.get("/learnwares/{learnware_id}", dependencies=[Depends(require("read"))])
def detail(request: Request, learnware_id: str, state: ServerState = Depends(server_state)) -> Response:
    card = with_ownership(state, [state.dock.card(learnware_id)])[0]
    files = _files(state, learnware_id)
    specs = [{**entry, "size": files.get(entry["file"])} for entry in card["manifest"]["specs"]]
    me = viewer(request)
    return render(request, "learnware.html", card=card, manifest=card["manifest"], specs=specs,
                  package_size=sum(files.values()), versions=versions_of(state, learnware_id),
                  may_delete=me is not None and me.may_change(card["uploaded_by"]))


@router.post("/learnwares/{learnware_id}/delete", dependencies=[Depends(check_csrf)])
def delete(learnware_id: str, me: Principal = Depends(require_account("write")),
           state: ServerState = Depends(server_state)) -> Response:
    """Remove the learnware (its uploader or an admin; 403 otherwise, nothing changed)."""
    delete_learnware(state, me, learnware_id)
    return redirect(f"/mine?deleted={learnware_id}")
