"""The pages' stylesheet (one plain CSS file; no build step)."""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter
from fastapi.responses import FileResponse

STYLESHEET = Path(__file__).resolve().parents[1] / "static" / "style.css"

router = APIRouter(include_in_schema=False)


@router.get("/static/style.css")
def stylesheet() -> FileResponse:
    return FileResponse(STYLESHEET, media_type="text/css", headers={"Cache-Control": "max-age=3600"})
