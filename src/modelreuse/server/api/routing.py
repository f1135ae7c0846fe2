"""Recommend and route over HTTP with models the server keeps in the library's own safe formats:
recommenders (:meth:`ModelLens.save`) under ``<dock root>/server/recommenders/<name>`` and routers
(:meth:`Router.save`) under ``<dock root>/server/routers/<name>``, each loaded once (again when its
folder changes). ``POST /recommend`` is :meth:`modelreuse.dock.Dock.recommend` (the ``records``
selector) on the search dock; ``POST /route`` is :meth:`modelreuse.routing.router.Router.route`.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Depends
from pydantic import BaseModel, ConfigDict, Field

from modelreuse.errors import UnknownNameError
from modelreuse.server.accounts import Principal
from modelreuse.server.api.search import CardFilters, RankingOut, searcher_of
from modelreuse.server.deps import ServerState, require, server_state
from modelreuse.server.ownership import hidden_ids

router = APIRouter(tags=["search"])
MODULE = "routing"
NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
_lock = threading.Lock()


class RecommendRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    description: str = Field(..., min_length=1, max_length=10_000, description="What the user's dataset is about.")
    recommender: str = Field(..., description="Name of a recommender saved under <dock root>/server/recommenders.")
    k: int = Field(10, ge=1, le=1000)
    task: str = Field("", max_length=200, description="What will be measured, e.g. 'PM2.5 regression'.")
    metric: str = Field("", max_length=200, description="e.g. rmse or ndcg_at_10.")
    filters: CardFilters = Field(default_factory=CardFilters)


class RouteRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    router: str = Field(..., description="Name of a router saved under <dock root>/server/routers.")
    queries: list[str] = Field(..., min_length=1, max_length=256)
    tasks: list[str] | None = Field(None, description="One task name per query, for routers that use it.")
    budget: float | None = Field(None, ge=0, description="Mean cost per query (USD) to stay within.")
    lam: float | None = Field(None, ge=0, description="Trade-off: best lam * score - cost.")
    models: list[str] | None = Field(None, description="Route among these models only (default all).")


class RouteChoiceOut(BaseModel):
    model: str
    predicted_score: float
    cost: float


@router.post("/recommend", response_model=RankingOut)
def recommend(body: RecommendRequest, principal: Principal = Depends(require("read")),
              state: ServerState = Depends(server_state)) -> dict:
    """Rank the dock's learnwares for a dataset described in words, with a saved recommender."""
    from modelreuse.selection.learned.modellens import ModelLens

    cache = state.settings.dock_root / "server" / "cache" / "recommend"
    lens = saved(state, "recommenders", body.recommender, lambda folder: ModelLens.load(folder, cache))
    dock = searcher_of(state).current()
    return dock.recommend(body.description, lens, task=body.task, metric=body.metric, k=body.k,
                          exclude=tuple(hidden_ids(state)), **body.filters.given()).to_dict()


@router.post("/route", response_model=list[RouteChoiceOut])
def route(body: RouteRequest, principal: Principal = Depends(require("read")),
          state: ServerState = Depends(server_state)) -> list[dict]:
    """One model per query, chosen by a saved router."""
    from dataclasses import asdict

    from modelreuse.routing.router import Router

    chosen = saved(state, "routers", body.router, Router.load)
    choices = chosen.route(body.queries, tasks=body.tasks, budget=body.budget, lam=body.lam, models=body.models)
    return [asdict(c) for c in choices]


def saved(state: ServerState, kind: str, name: str, load: Callable[[Path], Any]) -> Any:
    """The object saved in ``<dock root>/server/<kind>/<name>``, loaded once per version of its
    folder; a name with path characters, or one not there, is :class:`UnknownNameError` listing
    the available names."""
    folder = state.settings.dock_root / "server" / kind
    if not NAME.match(name) or ".." in name:
        raise UnknownNameError(f"{kind[:-1]} name {name!r} must be 1-64 letters, digits, '_', '.' or '-'")
    path = folder / name
    if not path.is_dir():
        available = sorted(p.name for p in folder.iterdir() if p.is_dir()) if folder.is_dir() else []
        raise UnknownNameError(f"no {kind[:-1]} {name!r} on this server; available: {available or 'none'} "
                               f"(saved under <dock root>/server/{kind}/<name>)")
    version = tuple(sorted((p.name, p.stat().st_mtime_ns, p.stat().st_size) for p in path.iterdir()))
    memo = state.extras.setdefault(MODULE, {})
    with _lock:
        cached = memo.get((kind, name))
        if cached is None or cached[0] != version:
            cached = memo[(kind, name)] = (version, load(path))
    return cached[1]
