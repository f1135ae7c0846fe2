"""Health of the service."""

from __future__ import annotations

from fastapi import APIRouter, Depends
from pydantic import BaseModel

from modelreuse.config import __version__
from modelreuse.server.deps import ServerState, server_state

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
