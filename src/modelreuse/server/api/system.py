"""Health and metrics of the service."""

from __future__ import annotations

from fastapi import APIRouter, Depends
from pydantic import BaseModel

from modelreuse.config import __version__
from modelreuse.server.accounts import Principal
from modelreuse.server.deps import ServerState, require, server_state
from modelreuse.server.metrics import RouteStats
from modelreuse.server.schemas import Metrics
from modelreuse.server.uploads import counts_by_status

router = APIRouter(tags=["system"])


class Health(BaseModel):
    status: str
    version: str
    learnwares: int
    database: str


@router.get("/health", response_model=Health)
def health(state: ServerState = Depends(server_state)) -> Health:
    """Liveness and the dock's size (one SQL count)."""
    return Health(status="ok", version=__version__, learnwares=len(state.dock), database=state.dock.engine.dialect.name)


@router.get("/metrics", response_model=Metrics)
def metrics(_: Principal = Depends(require("read")), state: ServerState = Depends(server_state)) -> Metrics:
    """Requests, errors and latency p50/p99 per route in this server process (the last 2,048
    requests of each), and uploads by status in the whole queue."""
    routes: dict[str, RouteStats] = state.extras["metrics"]
    return Metrics(routes={key: stats.summary() for key, stats in sorted(routes.items())},
                   uploads=counts_by_status(state))
