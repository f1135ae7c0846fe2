"""The home page: search the dock by card text (semantic search with card filters) or by an
uploaded task specification (an RKME ``.npz`` built on the user's machine: statistical or mixture
search with a score, p-value and reason per result). Both call :meth:`Dock.search` on the
server's warm search dock through :func:`modelreuse.server.api.search.search`, the function the REST
API answers with (superseded versions left out), so pages and API always rank alike."""

from __future__ import annotations

import tempfile
import typing
from pathlib import Path

from fastapi import APIRouter, Depends, File, Form, Request, Response, UploadFile

from modelreuse.dock.dock import Dock
from modelreuse.errors import EmptyDockError, PayloadTooLargeError
from modelreuse.learnware import Manifest
from modelreuse.server.api.search import search
from modelreuse.server.deps import ServerState, require, server_state
from modelreuse.server.web._pages import PageRoute, check_csrf, render
from modelreuse.specs.base import load_spec
from modelreuse.task import TASK_TYPES, Task

router = APIRouter(route_class=PageRoute, include_in_schema=False, dependencies=[Depends(require("read"))])

MAX_K = 50
SPEC_METHODS = ("statistical", "mixture")
MODALITIES = typing.get_args(Manifest.model_fields["modality"].annotation)


def _filters(task_type: str, modality: str, tag: str) -> dict[str, str]:
    """The card filters a form set (empty fields are no filter)."""
    chosen = {"task_type": task_type, "modality": modality, "tag": tag.strip()}
    return {key: value for key, value in chosen.items() if value}


def _results(dock: Dock, ranking: dict) -> list[dict]:
    """The ranking's entries (``Ranking.to_dict``) each with its learnware's card, for the table."""
    return [{**entry, "card": dock.card(entry["learnware_id"])} for entry in ranking["entries"]]


def _page(request: Request, **context: typing.Any) -> Response:
    context.setdefault("form", {})
    return render(request, "search.html", task_types=TASK_TYPES.names(), modalities=MODALITIES,
                  methods=SPEC_METHODS, max_k=MAX_K, **context)


@router.get("/")
def home(request: Request, q: str = "", task_type: str = "", modality: str = "", tag: str = "", k: int = 10,
         state: ServerState = Depends(server_state)) -> Response:
    """Text search (an empty query lists the learnwares that pass the filters, in dock order)."""
    k = min(max(k, 1), MAX_K)
    form = {"q": q, "task_type": task_type, "modality": modality, "tag": tag, "k": k}
    try:
        ranking = search(state, q, [], method="semantic", k=k, **_filters(task_type, modality, tag))
    except EmptyDockError as exc:
        return _page(request, form=form, empty=str(exc))
    return _page(request, form=form, kind="text", ranking=ranking, results=_results(state.dock, ranking))


@router.post("/search/spec", dependencies=[Depends(check_csrf)])
def search_by_spec(request: Request, spec: UploadFile = File(...), method: str = Form("statistical"),
                   k: int = Form(10), task_type: str = Form(""), modality: str = Form(""), tag: str = Form(""),
                   feature_names: str = Form(""), state: ServerState = Depends(server_state)) -> Response:
    """Statistical or mixture search with the user's task RKME; the user's rows stay with the user."""
    k = min(max(k, 1), MAX_K)
    names = [name.strip() for name in feature_names.split(",") if name.strip()] or None
    task = Task.from_spec(_read_spec(spec, state.settings.max_spec_bytes), task_type=task_type or None,
                          feature_names=names)
    ranking = search(state, task, [], method=method, k=k, **_filters("", modality, tag))
    form = {"method": method, "k": k, "task_type": task_type, "modality": modality, "tag": tag,
            "feature_names": feature_names, "spec_name": spec.filename}
    return _page(request, spec_form=form, kind="spec", ranking=ranking, results=_results(state.dock, ranking))


def _read_spec(upload: UploadFile, max_bytes: int):
    """The uploaded RKME spec, read with the spec loader's own checks (a hostile file is a SpecError)."""
    data = upload.file.read(max_bytes + 1)
    if len(data) > max_bytes:
        raise PayloadTooLargeError(f"the spec file is larger than this server's limit of {max_bytes:,} bytes")
    with tempfile.TemporaryDirectory(prefix="modelreuse-spec-") as folder:
        path = Path(folder) / "task.npz"
        path.write_bytes(data)
        return load_spec("rkme", path)
