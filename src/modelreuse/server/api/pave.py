"""PAVE over HTTP: the dock's shared base adapter, and parameter search by a task vector alone.

* ``GET /pave/base/{modality}`` (``text`` or ``image``) answers a zip of the two files of the
  dock's base adapter (:meth:`modelreuse.dock.Dock.pave_base`: ``adapter_config.json`` and
  ``adapter_model.safetensors``, peft's format, nothing executable) with its id in the
  ``X-PAVE-Base-Id`` header. :meth:`modelreuse.dock.RemoteDock.pave_base` checks it as it would
  any file from a server (archive limits, :meth:`PAVEBase.load`, the id and modality asked for).
  The zip is made from the loaded base (not copied from disk), once per base per process.
* ``POST /pave/search`` takes a PAVE task vector file (the ``.npz`` :meth:`PAVESpec.save`
  writes, read by its safe loader: a malformed or hostile file is a ``SpecError``) and answers
  :meth:`Ranking.to_dict` of ``Dock.search(spec, method="parameter")`` on the server's warm dock,
  superseded versions left out (as ``POST /search/spec`` does for RKME specs; the user's rows and
  labels never leave their machine, only the fitted ``B`` entries do).
"""

from __future__ import annotations

import tempfile
import threading
from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import Response
from pydantic import Field
from starlette.concurrency import run_in_threadpool

from modelreuse._archive import write_zip
from modelreuse.server.accounts import Principal
from modelreuse.server.api.search import CardFilters, RankingOut, _receive, search
from modelreuse.server.deps import ServerState, require, server_state
from modelreuse.specs.base import load_spec

router = APIRouter(tags=["pave"])
BASE_ID_HEADER = "X-PAVE-Base-Id"
MODULE = "pave"
_LOCK = threading.Lock()


class PAVESearch(CardFilters):
    """Query of ``POST /pave/search``: the selector's options and card filters."""

    k: int = Field(10, ge=1, le=1000)
    prefilter: int | None = Field(None, ge=1, le=100_000)
    exclude: list[str] = Field(default_factory=list, max_length=10_000)


@router.get("/pave/base/{modality}", response_class=Response,
            responses={200: {"content": {"application/zip": {}}, "description": "the base adapter's two files"}})
def pave_base(modality: str, principal: Principal = Depends(require("read")),
              state: ServerState = Depends(server_state)) -> Response:
    """The dock's shared PAVE base adapter for ``modality`` (module doc)."""
    base_id, body = _base_zip(state, modality)
    return Response(body, media_type="application/zip", headers={BASE_ID_HEADER: base_id})


def _base_zip(state: ServerState, modality: str) -> tuple[str, bytes]:
    """The base's id and zip bytes, made once per base id in this process."""
    base = state.dock.pave_base(modality)  # an unknown modality is a SpecError (422) before any path is made
    zips: dict[str, tuple[str, bytes]] = state.extras.setdefault(MODULE, {})
    with _LOCK:
        if zips.get(modality, ("",))[0] != base.id:
            with tempfile.TemporaryDirectory(prefix="modelreuse-pave-base-") as tmp:
                base.save(Path(tmp) / "base")
                zips[modality] = (base.id, write_zip(Path(tmp) / "base", Path(tmp) / "base.zip").read_bytes())
        return zips[modality]


@router.post("/pave/search", response_model=RankingOut,
             openapi_extra={"requestBody": {"required": True, "content": {"application/octet-stream": {
                 "schema": {"type": "string", "format": "binary"}}}}})
async def pave_search(request: Request, params: Annotated[PAVESearch, Query()],
                      principal: Principal = Depends(require("read")),
                      state: ServerState = Depends(server_state)) -> dict:
    """Rank learnwares by a PAVE task vector (the body: a ``.npz`` of :meth:`PAVESpec.save`)."""
    with tempfile.TemporaryDirectory(prefix="modelreuse-spec-") as folder:
        path = Path(folder) / "task.npz"
        await _receive(request, path, state.settings.max_spec_bytes)
        return await run_in_threadpool(_search_file, state, path, params)


def _search_file(state: ServerState, path: Path, params: PAVESearch) -> dict:
    spec = load_spec("pave", path)
    filters = {k: v for k, v in params.model_dump(exclude_none=True).items() if k in CardFilters.model_fields}
    options = params.model_dump(include={"prefilter"}, exclude_none=True)
    return search(state, spec, params.exclude, method="parameter", k=params.k, **options, **filters)
