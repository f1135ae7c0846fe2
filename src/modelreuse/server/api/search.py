"""Search over HTTP: by text (``POST /search/text``, the ``semantic`` selector) and by a task
specification alone (``POST /search/spec``: the body is a spec file such as an RKME ``.npz``, so
the user's rows never leave their machine). Both answer :meth:`Ranking.to_dict` of
:meth:`modelreuse.dock.Dock.search`, the library's own search; nothing is re-implemented here.

The index is kept warm: :func:`start` brings the dock's persisted RKME index of every feature
space into memory once, and each search first checks the dock's revision, so learnwares added or
removed by any process (an upload worker, ``modelreuse dock submit`` on the same root) are seen by
the next search. Superseded versions (``modelreuse.server.uploads.hidden_ids``) are left out.

Threads: FastAPI runs these endpoints in a thread pool, all on the server's one :class:`Dock`
(its file lock excludes threads too). Bringing the index up to a new revision, the only step of a
search that writes, runs under :attr:`Searcher.lock`, so concurrent searches never update it twice
at once; searches on an unchanged dock read the in-memory index without any lock.
"""

from __future__ import annotations

import tempfile
import threading
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from pydantic import BaseModel, ConfigDict, Field
from starlette.concurrency import run_in_threadpool

from modelreuse.dock.dock import Dock
from modelreuse.dock.store import current_revision
from modelreuse.errors import PayloadTooLargeError, UnknownNameError
from modelreuse.selection.base import SELECTORS
from modelreuse.server.accounts import Principal
from modelreuse.server.deps import ServerState, require, server_state
from modelreuse.server.ownership import hidden_ids
from modelreuse.specs.base import SPEC_KINDS, load_spec
from modelreuse.specs.rkme import RKMESpec
from modelreuse.task import Task

router = APIRouter(tags=["search"])
MODULE = "search"


# ---------------------------------------------------------------------- the warm index
@dataclass
class Searcher:
    """The dock object searches run on, and the revision its index was last brought up to."""

    dock: Dock
    lock: threading.Lock = field(default_factory=threading.Lock)
    revision: int | None = None

    def current(self) -> Dock:
        """The dock, with the in-memory RKME index of every feature space at the dock's revision
        (loaded from the persisted index, updated for what changed since; module doc)."""
        if self._revision() != self.revision:
            with self.lock:
                revision = self._revision()
                if revision != self.revision:
                    spaces = {c["feature_space"] for c in self.dock.list() if "rkme" in c["spec_kinds"]}
                    for space in sorted(spaces):
                        self.dock.index.get(space)
                    self.revision = revision
        return self.dock

    def _revision(self) -> int:
        with self.dock.engine.connect() as conn:  # a light core query, as Dock.search reads it
            return current_revision(conn)


def start(state: ServerState) -> None:
    """Load every feature space's index once."""
    searcher = Searcher(state.dock)
    searcher.current()
    state.extras[MODULE] = searcher


def searcher_of(state: ServerState) -> Searcher:
    """The server's :class:`Searcher` (made on first use when :func:`start` has not run)."""
    if MODULE not in state.extras:
        start(state)
    return state.extras[MODULE]


def search(state: ServerState, query: Any, exclude: list[str], **kwargs: Any) -> dict:
    """:meth:`Dock.search` on the warm dock without hidden learnwares, as a JSON-ready dict."""
    dock = searcher_of(state).current()
    return dock.search(query, exclude=tuple(hidden_ids(state) | set(exclude)), **kwargs).to_dict()


# ---------------------------------------------------------------------- request and response models
class CardFilters(BaseModel):
    """Exact-value filters on card fields (:data:`modelreuse.dock.dock.CARD_FILTERS` and ``tag``)."""

    model_config = ConfigDict(extra="forbid")
    task_type: str | None = None
    modality: str | None = None
    owner: str | None = None
    licence: str | None = None
    n_features: int | None = None
    feature_space: str | None = None
    tag: str | None = None

    def given(self) -> dict[str, Any]:
        return self.model_dump(exclude_none=True)


class RankedOut(BaseModel):
    learnware_id: str
    name: str
    score: float
    reason: str
    weight: float | None = None
    details: dict[str, Any] = Field(default_factory=dict, description="mmd2, p_value, ... as the selector gives them")


class RankingOut(BaseModel):
    """:meth:`modelreuse.selection.ranking.Ranking.to_dict`: entries best first."""

    method: str
    details: dict[str, Any] = Field(default_factory=dict, description="feature_space, nothing_fits, alpha, ...")
    entries: list[RankedOut]


class TextSearch(BaseModel):
    model_config = ConfigDict(extra="forbid")
    query: str = Field("", max_length=10_000, description="Text matched against the cards (BM25).")
    k: int = Field(10, ge=1, le=1000)
    filters: CardFilters = Field(default_factory=CardFilters)
    exclude: list[str] = Field(default_factory=list, max_length=10_000)


class SpecSearch(CardFilters):
    """Query of ``POST /search/spec``: the spec's kind, the selector and its options, the task's
    input schema (``feature_names``, ``encoder``) and card filters (``task_type`` is both the
    task's type and a filter)."""

    kind: str = "rkme"
    method: str = "statistical"
    k: int = Field(10, ge=1, le=1000)
    feature_names: list[str] | None = None
    encoder: str | None = None
    alpha: float | None = Field(None, gt=0, lt=1)
    calibrate: bool | None = None
    max_learnwares: int | None = Field(None, ge=1, le=100)
    exclude: list[str] = Field(default_factory=list)


# ---------------------------------------------------------------------- endpoints
@router.post("/search/text", response_model=RankingOut)
def search_text(body: TextSearch, principal: Principal = Depends(require("read")),
                state: ServerState = Depends(server_state)) -> dict:
    """Rank the cards by a text query (the ``semantic`` selector) after the card filters."""
    return search(state, body.query, body.exclude, method="semantic", k=body.k, **body.filters.given())


@router.post("/search/spec", response_model=RankingOut,
             openapi_extra={"requestBody": {"required": True, "content": {"application/octet-stream": {
                 "schema": {"type": "string", "format": "binary"}}}}})
async def search_spec(request: Request, params: Annotated[SpecSearch, Query()],
                      principal: Principal = Depends(require("read")),
                      state: ServerState = Depends(server_state)) -> dict:
    """Rank learnwares by a task specification alone: the body is the spec file (for ``rkme`` the
    ``.npz`` :meth:`RKMESpec.save` writes), read by the kind's own safe loader (a malformed or
    hostile file is a ``SpecError``, nothing in it is run); ``method`` is a selector that compares
    specs of that kind (``statistical``, ``mixture``)."""
    method = _spec_selector(params.kind, params.method)
    limit = state.settings.max_spec_bytes
    with tempfile.TemporaryDirectory(prefix="modelreuse-spec-") as folder:
        path = Path(folder) / f"query{SPEC_KINDS.metadata(params.kind)['file_suffix']}"
        await _receive(request, path, limit)
        return await run_in_threadpool(_search_spec_file, state, path, params, method)


def _spec_selector(kind: str, method: str) -> str:
    """``method`` if it is a selector that reads a query spec of ``kind``; else :class:`UnknownNameError`."""
    SPEC_KINDS.get(kind)  # an unknown kind lists the registered ones
    usable = [n for n in SELECTORS.names() if kind in SELECTORS.metadata(n)["spec_kinds"]
              and SELECTORS.metadata(n)["feature_space"]]
    if method not in usable:
        raise UnknownNameError(f"method {method!r} cannot search by a {kind!r} spec; use one of {usable or 'none'} "
                               "(text search: POST /search/text)")
    return method


async def _receive(request: Request, path: Path, limit: int) -> None:
    """Stream the request body into ``path``; :class:`PayloadTooLargeError` past ``limit`` bytes
    (refused from ``Content-Length`` first, then while reading)."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise PayloadTooLargeError(f"the spec file has {declared} bytes; this server takes at most {limit}")
    size = 0
    with path.open("wb") as sink:
        async for chunk in _chunks(request):
            size += len(chunk)
            if size > limit:
                raise PayloadTooLargeError(f"the spec file is larger than this server's limit of {limit} bytes")
            sink.write(chunk)


async def _chunks(request: Request) -> AsyncIterator[bytes]:
    async for chunk in request.stream():
        if chunk:
            yield chunk


def _search_spec_file(state: ServerState, path: Path, params: SpecSearch, method: str) -> dict:
    spec = load_spec(params.kind, path)
    query = Task.from_spec(spec, task_type=params.task_type, feature_names=params.feature_names,
                           encoder=params.encoder) if isinstance(spec, RKMESpec) else spec
    filters = {k: v for k, v in params.model_dump(exclude_none=True).items() if k in CardFilters.model_fields}
    options = params.model_dump(include={"alpha", "calibrate", "max_learnwares"}, exclude_none=True)
    return search(state, query, params.exclude, method=method, k=params.k, **options, **filters)
