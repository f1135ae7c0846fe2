"""A dock on a server: :class:`RemoteDock` has the local :class:`~modelreuse.dock.Dock`'s methods
where they make sense over HTTP (submit, list, card, get, load_model, remove, search, recommend,
``len``), so code written for a dock (``Client().fit(model_zoo_path="http://...")``, the CLI's
``dock`` commands) works against a ``modelreuse serve`` server.

What leaves the machine. ``search`` computes the task's spec here (the RKME of a :class:`Task`;
for a pandas DataFrame, the RKME of its encoding in each matching table schema, matched against the
server's listing as :mod:`modelreuse.dock.tables` does locally) and sends only the spec file: the
user's rows never leave. p-values are then calibrated from the spec alone (the server never sees
the rows), which is conservative next to a local search with the rows
(:func:`modelreuse.selection.calibration.null_model`). Parameter search sends the PAVE task vector
only, fitted here on the server's base adapter (:meth:`RemoteDock.pave_base`, downloaded and
validated like a package).

Errors. A server error answers ``{"error": {"type", "message"}}``; the same library error class is
raised here (by its name in :mod:`modelreuse.errors`), an unknown one as
:class:`RemoteDockError`, as is a server that cannot be reached (with its URL).

Downloads. ``get`` fetches a package once into ``cache`` (default ``config.cache_home("remote",
<host>)``), checks that the zip's SHA-256 starts with the learnware's id (ids are content
hashes), and unpacks it with the library's archive checks (:meth:`Learnware.open`).
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import tempfile
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import httpx

from modelreuse import errors
from modelreuse._archive import PackageLimits, extract_zip
from modelreuse.config import cache_home
from modelreuse.dock.store import derived_columns
from modelreuse.dock.tables import is_table
from modelreuse.errors import InvalidTaskDataError, LearnwareNotFoundError, RemoteDockError, UnknownNameError
from modelreuse.learnware import Learnware
from modelreuse.selection.ranking import RankedLearnware, Ranking
from modelreuse.specs.pave_base import MAX_BASE_BYTES

if TYPE_CHECKING:
    from modelreuse.models.adapters import ModelAdapter
    from modelreuse.specs.pave import PAVESpec
    from modelreuse.specs.pave_base import PAVEBase
    from modelreuse.specs.rkme import RKMESpec
    from modelreuse.task import Task

API_PREFIX = "/api/v1"
TOKEN_ENV = "MODELREUSE_TOKEN"
PAGE = 500
LEARNWARE_ID = re.compile(r"^[0-9a-f]{16}$")
LIST_FILTERS = ("task_type", "modality", "owner", "licence", "n_features", "feature_space", "tag", "uploaded_by",
                "include_superseded")
MAX_PACKAGE_BYTES = 2 * 1024**3
PAVE_MODALITIES = ("text", "image")
#: A PAVE base adapter's zip: its two files, each within :data:`modelreuse.specs.pave_base.MAX_BASE_BYTES`.
BASE_LIMITS = PackageLimits(max_entries=2, max_total_bytes=2 * MAX_BASE_BYTES)


def is_url(location: object) -> bool:
    """Whether ``location`` names a dock server (``http://`` or ``https://``)."""
    return isinstance(location, str) and location.lower().startswith(("http://", "https://"))


class RemoteDock:
    """The dock served at ``url`` (``http://host:8000``; ``/api/v1`` is added when missing).

    Args:
        url: the server's address.
        token: an API token (``mrt_...``; default ``$MODELREUSE_TOKEN``); reading may work without
            one when the server allows anonymous reading.
        cache: folder for downloaded packages (default ``config.cache_home("remote", <host>)``).
        timeout_s: per-request timeout.
    """

    def __init__(self, url: str, token: str | None = None, cache: str | Path | None = None, *,
                 timeout_s: float = 120.0):
        if not is_url(url):
            raise RemoteDockError(f"{url!r} is not a dock server URL (http://host:port)")
        base = url.rstrip("/")
        self.url = base if base.endswith(API_PREFIX) else base + API_PREFIX
        self.root = self.url  # where messages say the dock is
        token = token or os.environ.get(TOKEN_ENV) or None
        parts = urlsplit(self.url)
        self.cache = Path(cache) if cache is not None else cache_home("remote", re.sub(r"[^A-Za-z0-9.-]", "_", parts.netloc))
        self.http = httpx.Client(base_url=self.url, timeout=timeout_s,
                                 headers={"Authorization": f"Bearer {token}"} if token else {})
        self._models: dict[tuple[str, bool], ModelAdapter] = {}
        self._pave_bases: dict[str, PAVEBase] = {}

    def __repr__(self) -> str:
        return f"RemoteDock({self.url!r})"

    def close(self) -> None:
        self.http.close()

    def __enter__(self) -> RemoteDock:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # ---------------------------------------------------------------- HTTP
    def _send(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        """The server's answer; an error answer raised as its library error (module doc)."""
        try:
            response = self.http.request(method, path, **kwargs)
        except httpx.TransportError as exc:
            raise RemoteDockError(f"cannot reach the dock server at {self.url}: {type(exc).__name__}: {exc}") from None
        if response.status_code >= 400:
            raise error_of(response, self.url)
        return response

    def _json(self, method: str, path: str, **kwargs: Any) -> Any:
        return self._send(method, path, **kwargs).json()

    # ---------------------------------------------------------------- submit
    def submit(self, package: str | Path | Learnware, *, replaces: str | None = None, timeout_s: float = 600.0,
               poll_s: float = 0.25) -> str:
        """Upload a learnware (directory, zip or :class:`Learnware`) as its canonical zip
        (:meth:`Learnware.to_zip`), wait while the server validates it in its sandbox, and return
        its id; a rejected upload raises the library error the server names (e.g.
        :class:`~modelreuse.errors.ModelPredictError`). ``replaces``: publish it as a new version
        of that learnware (yours)."""
        source = package.root if isinstance(package, Learnware) else Path(package)
        with tempfile.TemporaryDirectory(prefix="modelreuse-upload-") as tmp:
            with Learnware.open(source, extract_to=None if source.is_dir() else Path(tmp) / "raw") as lw:
                zip_path = lw.to_zip(Path(tmp) / "package.zip")
            with zip_path.open("rb") as body:
                status = self._json("POST", "/uploads", content=body, headers={"Content-Type": "application/zip"},
                                    params={"replaces": replaces} if replaces else None)
        return self._settled(status, timeout_s, poll_s)

    def _settled(self, status: dict, timeout_s: float, poll_s: float) -> str:
        deadline = time.monotonic() + timeout_s
        while status["status"] not in ("verified", "rejected"):
            if time.monotonic() > deadline:
                raise RemoteDockError(f"upload {status['upload_id']} is still {status['status']} after {timeout_s} s "
                                      f"at {self.url}; ask GET /uploads/{status['upload_id']} later")
            time.sleep(poll_s)
            status = self._json("GET", f"/uploads/{status['upload_id']}")
        if status["status"] == "rejected":
            raise error_class(status.get("error_type"))(status.get("reason") or "the server rejected the upload")
        return status["learnware_id"]

    # ---------------------------------------------------------------- read
    def list(self, *, manifests: bool = False, **filters: Any) -> list[dict]:
        """Cards matching exact-value filters (card fields, ``tag``, ``uploaded_by``,
        ``include_superseded``), in dock order, fetched page by page; with ``manifests=True``
        each card also holds its ``manifest``."""
        unknown = set(filters) - set(LIST_FILTERS)
        if unknown:
            raise UnknownNameError(f"unknown filter(s) {sorted(unknown)}; use {', '.join(LIST_FILTERS)}")
        params = {k: v for k, v in filters.items() if v is not None}
        cards: list[dict] = []
        while True:
            page = self._json("GET", "/learnwares", params={**params, "limit": PAGE, "offset": len(cards)})
            cards += page["items"]
            if not page["items"] or len(cards) >= page["total"]:
                break
        if manifests:
            cards = [c if "manifest" in c else {**c, "manifest": self.card(c["id"])["manifest"]} for c in cards]
        return cards

    def table_schema_rows(self, task_type: str | None = None) -> list[tuple[str, str, int, str]]:
        """What :meth:`Dock.table_schema_rows` gives, from the listed manifests (one request per
        page and per manifest)."""
        groups: dict[tuple[str, str], list] = {}
        for card in self.list(manifests=True, **({"task_type": task_type} if task_type else {})):
            schema = derived_columns(card["manifest"])["table_schema"]
            if schema is not None:
                groups.setdefault((card["feature_space"], schema), [0, card["name"]])[0] += 1
        return [(space, schema, count, name) for (space, schema), (count, name) in groups.items()]

    def __len__(self) -> int:
        return int(self._json("GET", "/learnwares", params={"limit": 1})["total"])

    def card(self, learnware_id: str) -> dict:
        """The card, manifest and versions of one learnware."""
        return self._json("GET", f"/learnwares/{_checked_id(learnware_id)}")

    def get(self, learnware_id: str) -> Learnware:
        """The learnware, downloaded once into the cache and unpacked there (module doc)."""
        folder = self.cache / "packages" / _checked_id(learnware_id)
        if not (folder / "manifest.json").is_file():
            self._download(learnware_id, folder)
        lw = Learnware.open(folder)
        lw.id = learnware_id
        return lw

    def _download(self, learnware_id: str, folder: Path) -> None:
        """Fetch the package, check its digest against the id, unpack it beside ``folder`` and
        move it into place (a concurrent download of the same id leaves one copy)."""
        folder.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(prefix=".download-", dir=folder.parent) as tmp:
            zip_path = Path(tmp) / "package.zip"
            digest, _ = self._fetch(f"/learnwares/{learnware_id}/package", zip_path, MAX_PACKAGE_BYTES,
                                    f"package {learnware_id}")
            if not digest.startswith(learnware_id):
                raise RemoteDockError(f"the package {self.url} sent for {learnware_id} has SHA-256 {digest[:16]}, "
                                      "not its id; nothing was kept")
            Learnware.open(zip_path, extract_to=Path(tmp) / "package")
            try:
                os.rename(Path(tmp) / "package", folder)
            except OSError:
                if not (folder / "manifest.json").is_file():
                    raise

    def _fetch(self, path: str, dest: Path, max_bytes: int, what: str) -> tuple[str, httpx.Headers]:
        """Stream ``GET path`` into ``dest`` (at most ``max_bytes``); its SHA-256 and the headers."""
        digest, size = hashlib.sha256(), 0
        try:
            with self.http.stream("GET", path) as response:
                if response.status_code >= 400:
                    response.read()
                    raise error_of(response, self.url)
                with dest.open("wb") as sink:
                    for chunk in response.iter_bytes():
                        size += len(chunk)
                        if size > max_bytes:
                            raise RemoteDockError(f"{what} from {self.url} exceeds {max_bytes} bytes")
                        digest.update(chunk)
                        sink.write(chunk)
                return digest.hexdigest(), response.headers
        except httpx.TransportError as exc:
            raise RemoteDockError(f"cannot download {what} from {self.url}: {exc}") from None

    def pave_base(self, modality: str) -> PAVEBase:
        """The server's shared PAVE base adapter for ``modality``, downloaded once per dock object
        and checked like any file from a server: at most two files within :data:`BASE_LIMITS`,
        :meth:`PAVEBase.load`'s validation (``SpecError``), and the modality and id the server
        names (``RemoteDockError`` otherwise); nothing is cached on disk."""
        from modelreuse.specs.pave_base import PAVEBase

        if modality not in PAVE_MODALITIES:
            raise InvalidTaskDataError(f"PAVE bases exist for modalities {list(PAVE_MODALITIES)}, not {modality!r}")
        if modality not in self._pave_bases:
            with tempfile.TemporaryDirectory(prefix="modelreuse-pave-base-") as tmp:
                zip_path = Path(tmp) / "base.zip"
                _, headers = self._fetch(f"/pave/base/{modality}", zip_path, BASE_LIMITS.max_total_bytes,
                                         f"the {modality} PAVE base adapter")
                base = PAVEBase.load(extract_zip(zip_path, Path(tmp) / "base", BASE_LIMITS))
            if base.modality != modality or base.id != headers.get("x-pave-base-id"):
                raise RemoteDockError(f"{self.url} sent a {base.modality} PAVE base adapter with id {base.id[:12]} "
                                      f"for {modality} and named it {str(headers.get('x-pave-base-id'))[:64]!r}; "
                                      "nothing was kept")
            self._pave_bases[modality] = base
        return self._pave_bases[modality]

    def load_model(self, learnware_id: str, trust: bool = False) -> ModelAdapter:
        """The learnware's model behind the prediction protocol, loaded here once per dock object."""
        key = (learnware_id, trust)
        if key not in self._models:
            self._models[key] = self.get(learnware_id).load_model(trust=trust)
        return self._models[key]

    def remove(self, learnware_id: str) -> None:
        """Delete a learnware on the server (its uploader or an admin) and its cached copy here."""
        self._send("DELETE", f"/learnwares/{_checked_id(learnware_id)}")
        shutil.rmtree(self.cache / "packages" / learnware_id, ignore_errors=True)
        self._models = {k: v for k, v in self._models.items() if k[0] != learnware_id}

    # ---------------------------------------------------------------- search
    def search(self, task: Task | RKMESpec | str | Any, *, method: str = "statistical", k: int = 10,
               exclude: tuple[str, ...] = (), **kwargs: Any) -> Ranking:
        """:meth:`Dock.search` on the server: text (or a task's description) for ``semantic``;
        for the statistical selectors only the task's spec is sent (module doc), for
        ``parameter`` only the PAVE task vector (a :class:`PAVESpec` or a Task's ``pave``).
        ``kwargs``: selector options (``alpha``, ``calibrate``, ``max_learnwares``, ``prefilter``)
        and card filters."""
        from modelreuse.specs.rkme import RKMESpec
        from modelreuse.task import Task

        if is_table(task):
            from modelreuse.dock.tables import search_table

            return search_table(self, task, method=method, k=k, exclude=exclude, **kwargs)
        if method == "semantic":
            return self._search_text(task if isinstance(task, str) else getattr(task, "description", ""), k,
                                     exclude, kwargs)
        if method == "parameter":
            return self._search_pave(task, k, exclude, kwargs)
        if isinstance(task, RKMESpec):
            task = Task.from_spec(task)
        if not isinstance(task, Task):
            raise InvalidTaskDataError(f"{method} search over HTTP needs a Task with data, an RKMESpec or a DataFrame; "
                                       f"got {type(task).__name__} (text: method='semantic')")
        params = {"kind": "rkme", "method": method, "k": k, "exclude": list(exclude), "task_type": task.task_type,
                  "feature_names": task.feature_names, "encoder": task.encoder, **kwargs}
        ranking = self._json("POST", "/search/spec", content=_spec_bytes(task.rkme),
                             params={key: value for key, value in params.items() if value is not None},
                             headers={"Content-Type": "application/octet-stream"})
        return ranking_of(ranking)

    def _search_pave(self, query: Any, k: int, exclude: tuple[str, ...], kwargs: dict) -> Ranking:
        """Parameter search on the server: only the PAVE task vector is sent (``POST /pave/search``)."""
        from modelreuse.selection.methods.parameter import query_pave

        params = {"k": k, "exclude": list(exclude), **kwargs}
        return ranking_of(self._json("POST", "/pave/search", content=_spec_bytes(query_pave(query)),
                                     params={key: value for key, value in params.items() if value is not None},
                                     headers={"Content-Type": "application/octet-stream"}))

    def _search_text(self, query: str, k: int, exclude: tuple[str, ...], filters: dict) -> Ranking:
        return ranking_of(self._json("POST", "/search/text", json={"query": query, "k": k, "filters": filters,
                                                                   "exclude": list(exclude)}))

    def recommend(self, description: str, recommender: str, *, task: str = "", metric: str = "", k: int = 10,
                  **filters: Any) -> Ranking:
        """:meth:`Dock.recommend` with a recommender the server keeps under ``recommender`` (a name)."""
        return ranking_of(self._json("POST", "/recommend", json={
            "description": description, "recommender": str(recommender), "task": task, "metric": metric, "k": k,
            "filters": filters}))


# ---------------------------------------------------------------------- helpers
def error_class(type_name: str | None) -> type[errors.ModelReuseError]:
    """The library error class named ``type_name`` (:class:`RemoteDockError` when there is none)."""
    cls = getattr(errors, type_name or "", None)
    if isinstance(cls, type) and issubclass(cls, errors.ModelReuseError):
        return cls
    return RemoteDockError


def error_of(response: httpx.Response, url: str) -> errors.ModelReuseError:
    """The library error an error answer stands for (module doc)."""
    try:
        error = response.json()["error"]
        type_name, message = str(error["type"]), str(error["message"])
    except (ValueError, KeyError, TypeError):
        return RemoteDockError(f"{url} answered HTTP {response.status_code}: {response.text[:500]}")
    cls = error_class(type_name)
    return cls(message if cls is not RemoteDockError else f"{url} answered HTTP {response.status_code} "
               f"{type_name}: {message}")


def ranking_of(data: dict) -> Ranking:
    """A :class:`Ranking` from its :meth:`Ranking.to_dict`."""
    return Ranking([RankedLearnware(**entry) for entry in data["entries"]], data["method"], data.get("details", {}))


def _spec_bytes(spec: RKMESpec | PAVESpec) -> bytes:
    """The ``.npz`` file the spec's ``save`` writes, as bytes."""
    with tempfile.TemporaryDirectory(prefix="modelreuse-spec-") as tmp:
        path = Path(tmp) / "task.npz"
        spec.save(path)
        return path.read_bytes()


def _checked_id(learnware_id: str) -> str:
    if not LEARNWARE_ID.match(str(learnware_id)):
        raise LearnwareNotFoundError(f"{learnware_id!r} is not a learnware id (16 hexadecimal digits)")
    return learnware_id
