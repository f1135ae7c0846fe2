"""``modelreuse bench server-load``: the dock server under concurrent clients on loopback.

The server is the real one, ``modelreuse serve`` in a subprocess (this layer may not import
:mod:`modelreuse.server`; it goes through the CLI and HTTP only), on a dock of ``N`` learnwares of
the ``bench dock-scale`` market (:mod:`modelreuse.bench.dock_scale`: Ridge regressors on windows of
real Beijing station rows), either an existing dock folder or one built here; its metadata in the
dock's SQLite file or in PostgreSQL (a given URL, or a throwaway cluster started here).

Prepared before the timed phase (not timed): a write token (``modelreuse user create`` and
``modelreuse token create``), ``upload_pool`` new learnware zips of the same market (plans after
the highest ``lw<i>`` already in the dock, so every one is new content) and the RKME ``.npz`` of a
few users' tables (held-out rows of one learnware's window), whose bytes every search re-sends.

Timed phase: ``clients`` ``httpx.AsyncClient`` objects on one asyncio loop (one connection each),
each looping until ``seconds`` have passed: with probability ``upload_share`` it uploads the next
zip of the pool (``POST /api/v1/uploads``, 202 expected; when the pool is empty it searches instead
and ``upload_pool_empty`` counts it), else a spec-only statistical search (``POST
/api/v1/search/spec?kind=rkme&method=statistical&k=5&feature_names=...``, 200 expected). Latency is
measured in the client, per answered request, so it includes the client loop's own delays (the
clients share the machine's cores with the server). The server's resident memory is the sum of
``VmRSS`` over its process tree (uvicorn workers and sandboxed validations), sampled twice a second.

Afterwards: uploads are checked asynchronously by the server (``pending`` -> ``verified`` |
``rejected``); the harness polls ``GET /uploads/{id}`` until every acknowledged upload is settled
or ``settle_timeout`` passes (``settle_s``), then lists every card (``GET /learnwares``, paged) and
counts as *lost* each verified upload that is not listed, whose package does not download, whose
zip's SHA-256 does not start with its id, that does not open with its specs and model, or whose id
is not the id of the zip that was uploaded; *duplicated* are ids listed more than once.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import random
import re
import shutil
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import numpy as np

from modelreuse.bench import dock_scale
from modelreuse.bench.postgres import _free_port, throwaway_postgres
from modelreuse.bench.report import Report
from modelreuse.dock import Dock
from modelreuse.errors import InvalidLimitError, ModelReuseError, RemoteDockError

API = "/api/v1"
FINAL = ("verified", "rejected")
PAGE = 100
USERS = 8
STARTUP_TIMEOUT_S = 600
REQUEST_TIMEOUT_S = 120
RSS_EVERY_S = 0.5
SEARCH_PARAMS = [("kind", "rkme"), ("method", "statistical"), ("k", "5")] + [
    ("feature_names", name) for name in dock_scale.COLUMNS]


@dataclass
class ServerLoadReport(Report):
    """What ``bench server-load`` measured (module doc); times in seconds unless named ``_ms``."""

    clients: int
    seconds: float
    database: str
    workers: int
    dock: str
    n_before: int
    n_after: int
    searches: int
    uploads: int
    searches_per_s: float
    uploads_per_s: float
    latency_ms: dict[str, dict[str, float]]
    errors: dict[str, int]
    error_examples: dict[str, str]
    upload_pool: int
    upload_pool_empty: int
    uploads_acknowledged: int
    uploads_verified: int
    uploads_rejected: int
    rejected_reasons: dict[str, int]
    uploads_unsettled: int
    settle_s: float
    lost: list[str]
    duplicated: list[str]
    server_rss_mb: float | None
    command: str
    notes: list[str] = field(default_factory=list)


@dataclass
class _Load:
    """What the clients send: the upload pool (zip bytes, popped as used) and the users' spec bytes."""

    pool: list[bytes]
    specs: list[bytes]
    upload_share: float
    seed: int


@dataclass
class _Log:
    """Every answered or failed request of the timed phase."""

    seconds: dict[str, list[float]] = field(default_factory=lambda: {"search": [], "upload": []})
    errors: Counter = field(default_factory=Counter)
    examples: dict[str, str] = field(default_factory=dict)
    uploads: dict[str, str] = field(default_factory=dict)  # upload id -> id of the uploaded zip
    pool_empty: int = 0
    peak_rss_mb: float | None = None

    def error(self, kind: str, status: int, error_type: str, message: str) -> None:
        key = f"{kind} {status} {error_type}"
        self.errors[key] += 1
        self.examples.setdefault(key, message[:300])


def run(data_root: Path, work: Path, *, n: int | None = None, dock: Path | None = None, db_url: str | None = None,
        postgres: bool = False, clients: int = 32, seconds: float = 30, upload_share: float = 0.1,
        upload_pool: int = 100, workers: int = 1, validation_workers: int = 2, jobs: int = 1, seed: int = 0,
        settle_timeout: float = 900) -> ServerLoadReport:
    """Serve a dock (``dock``, or one of ``n`` learnwares built under ``work``) and load it (module doc)."""
    _check(n, dock, db_url, postgres, clients, seconds, upload_share)
    work.mkdir(parents=True, exist_ok=True)
    tables = dock_scale.station_tables(data_root)
    with ExitStack() as stack:
        if postgres:
            db_url = stack.enter_context(throwaway_postgres())
        root = dock if dock is not None else _build_dock(work / "dock", db_url, tables, n, seed, jobs)
        first = _next_plan(Dock(root, url=db_url, create=False))
        load = _Load(_upload_zips(work / "uploads", tables, range(first, first + upload_pool), seed, jobs),
                     _user_specs(work / "specs", tables, first, seed), upload_share, seed)
        token = _write_token(root, db_url)
        server = stack.enter_context(running_server(root, db_url, work / "server.log", "--workers", str(workers),
                                                    "--validation-workers", str(validation_workers)))
        with _http(server.url, token) as http:
            n_before = _total(http)
        log, elapsed = asyncio.run(_drive(server, token, load, clients, seconds))
        with _http(server.url, token) as http:
            statuses, settle_s = _settle(http, list(log.uploads), settle_timeout)
            listed, n_after = _listing(http)
            lost = _lost(http, statuses, log.uploads, set(listed), work / "downloads")
    return _report(log, statuses, elapsed, settle_s, listed, lost, n_before=n_before, n_after=n_after,
                   clients=clients, database=_database(db_url), workers=workers, dock=str(root),
                   upload_pool=upload_pool, command=_command(n, dock, db_url, postgres, clients, seconds, workers))


def _check(n, dock, db_url, postgres, clients, seconds, upload_share) -> None:
    if (n is None) == (dock is None):
        raise InvalidLimitError("give either a dock folder to serve or N, the learnwares of a dock to build")
    if postgres and (dock is not None or db_url):
        raise InvalidLimitError("a throwaway PostgreSQL holds a dock built here: give N, not a dock folder or URL")
    if (n is not None and n < 1) or clients < 1 or seconds <= 0 or not 0 <= upload_share <= 1:
        raise InvalidLimitError(f"need N >= 1, clients >= 1, seconds > 0 and 0 <= upload share <= 1; got N={n}, "
                                f"clients={clients}, seconds={seconds}, upload share={upload_share}")


# ---------------------------------------------------------------------- preparation (not timed)
def _build_dock(root: Path, db_url: str | None, tables: list, n: int, seed: int, jobs: int) -> Path:
    """A new dock of the dock-scale market's learnwares ``0 .. n-1`` (metadata at ``db_url`` if given)."""
    shutil.rmtree(root, ignore_errors=True)
    dock = Dock(root, url=db_url)
    dock_scale.build_and_submit(dock, root, tables, [dock_scale.plan_learnware(tables, i, seed) for i in range(n)], jobs)
    dock.engine.dispose()
    return root


def _next_plan(dock: Dock) -> int:
    """One past the highest market index ``i`` named ``lw<i>`` in the dock (so uploads are new)."""
    indices = [int(m[1]) for c in dock.list() if (m := re.fullmatch(r"lw(\d+)", c["name"]))]
    dock.engine.dispose()
    return max(indices, default=-1) + 1


def _upload_zips(folder: Path, tables: list, indices: range, seed: int, jobs: int) -> list[bytes]:
    """The canonical zips (:meth:`Learnware.to_zip`) of the market's learnwares ``indices``."""
    from joblib import Parallel, delayed

    from modelreuse.learnware import Learnware

    shutil.rmtree(folder, ignore_errors=True)
    plans = [dock_scale.plan_learnware(tables, i, seed) for i in indices]
    chunks = [c for c in np.array_split(np.arange(len(plans)), max(1, jobs)) if len(c)]
    built = Parallel(n_jobs=jobs)(delayed(dock_scale.build_chunk)(folder, tables, [plans[i] for i in c])
                                  for c in chunks)
    zips = [Learnware.open(f).to_zip(folder / f"{f.name}.zip").read_bytes() for chunk in built for f in chunk]
    shutil.rmtree(folder, ignore_errors=True)  # absent when the pool is empty
    return zips


def _user_specs(folder: Path, tables: list, market: int, seed: int) -> list[bytes]:
    """RKME ``.npz`` bytes of :data:`USERS` users' tables (held-out rows of learnwares of the market)."""
    from modelreuse.task import Task

    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    specs = []
    for i in rng.choice(max(market, 1), min(USERS, max(market, 1)), replace=False):
        rows = dock_scale.user_table(tables, dock_scale.plan_learnware(tables, int(i), seed))
        task = Task(X=rows.to_numpy(float), feature_names=dock_scale.COLUMNS, task_type="regression")
        task.rkme.save(folder / f"user{i}.npz")
        specs.append((folder / f"user{i}.npz").read_bytes())
    return specs


def _cli(*args: str) -> str:
    """Run ``modelreuse ARGS`` in a new process; its stdout."""
    command = [str(Path(sys.executable).parent / "modelreuse"), *args]
    done = subprocess.run(command, capture_output=True, text=True)
    if done.returncode != 0:
        raise RemoteDockError(f"`{' '.join(command)}` failed ({done.returncode}): {done.stderr[-2000:]}")
    return done.stdout


def _write_token(root: Path, db_url: str | None) -> str:
    """A new user (named after the time, so reruns on one dock never collide) and its read+write token."""
    import json

    where = ["--dock", str(root)] + (["--db", db_url] if db_url else [])
    user = f"load-{time.time_ns()}"
    _cli("user", "create", user, *where)
    return json.loads(_cli("token", "create", "--user", user, "--scope", "read", "--scope", "write", "--label",
                           "bench server-load", "--json", *where))["token"]


@dataclass
class RunningServer:
    url: str
    process: subprocess.Popen


@contextmanager
def running_server(root: Path, db_url: str | None, log: Path, *args: str,
                   startup_timeout_s: float = STARTUP_TIMEOUT_S) -> Iterator[RunningServer]:
    """``modelreuse serve --dock root [--db db_url] *args`` on a free loopback port, its output in
    ``log``, until ``/api/v1/health`` answers (:class:`RemoteDockError` with the log's end if it exits
    or does not answer within ``startup_timeout_s``); stopped after. The load benchmark and the
    server tests both start servers this way."""
    port = _free_port()
    command = [str(Path(sys.executable).parent / "modelreuse"), "serve", "--dock", str(root), "--port", str(port),
               *args]
    command += ["--db", db_url] if db_url else []
    with log.open("wb") as sink:
        process = subprocess.Popen(command, stdout=sink, stderr=subprocess.STDOUT, env=os.environ.copy())
    server = RunningServer(f"http://127.0.0.1:{port}", process)
    try:
        _wait_until_up(server, log, startup_timeout_s)
        yield server
    finally:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _wait_until_up(server: RunningServer, log: Path, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            raise RemoteDockError(f"the server exited with {server.process.returncode}:\n{log.read_text()[-4000:]}")
        try:
            if httpx.get(f"{server.url}{API}/health", timeout=5).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.25)
    raise RemoteDockError(f"the server did not answer within {timeout_s} s:\n{log.read_text()[-4000:]}")


def _http(url: str, token: str) -> httpx.Client:
    return httpx.Client(base_url=f"{url}{API}", headers={"Authorization": f"Bearer {token}"},
                        timeout=REQUEST_TIMEOUT_S)


# ---------------------------------------------------------------------- the timed phase
async def _drive(server: RunningServer, token: str, load: _Load, clients: int, seconds: float) -> tuple[_Log, float]:
    """Run the clients until ``seconds`` have passed (each finishes its request in flight); the log
    and the phase's wall time."""
    log = _Log()
    deadline = time.monotonic() + seconds
    sampler = asyncio.create_task(_sample_rss(server.process.pid, log))
    start = time.perf_counter()
    await asyncio.gather(*(_client(c, server.url, token, load, deadline, log) for c in range(clients)))
    elapsed = time.perf_counter() - start
    sampler.cancel()
    return log, elapsed


async def _client(c: int, url: str, token: str, load: _Load, deadline: float, log: _Log) -> None:
    rng = random.Random(load.seed * 100_003 + c)
    async with httpx.AsyncClient(base_url=f"{url}{API}", headers={"Authorization": f"Bearer {token}"},
                                 timeout=REQUEST_TIMEOUT_S) as http:
        while time.monotonic() < deadline:
            if rng.random() < load.upload_share:
                if load.pool:
                    await _upload(http, load.pool.pop(), log)
                    continue
                log.pool_empty += 1
            await _send(http, log, "search", 200, "/search/spec", SEARCH_PARAMS, load.specs[rng.randrange(
                len(load.specs))], "application/octet-stream")


async def _upload(http: httpx.AsyncClient, package: bytes, log: _Log) -> None:
    answer = await _send(http, log, "upload", 202, "/uploads", [], package, "application/zip")
    if answer is not None:
        log.uploads[answer["upload_id"]] = hashlib.sha256(package).hexdigest()[:16]


async def _send(http: httpx.AsyncClient, log: _Log, kind: str, expected: int, path: str, params: list,
                body: bytes, content_type: str) -> dict | None:
    """POST ``body``; record its latency when answered with ``expected`` (and return the JSON), else
    the error by status and type (0: no answer)."""
    start = time.perf_counter()
    try:
        response = await http.post(path, params=params, content=body, headers={"Content-Type": content_type})
    except httpx.HTTPError as exc:
        log.error(kind, 0, type(exc).__name__, str(exc))
        return None
    if response.status_code != expected:
        error_type, message = _error_of(response)
        log.error(kind, response.status_code, error_type, message)
        return None
    log.seconds[kind].append(time.perf_counter() - start)
    return response.json()


def _error_of(response: httpx.Response) -> tuple[str, str]:
    """The ``{"error": {"type", "message"}}`` of an error answer (``-`` and the text if not JSON)."""
    try:
        error = response.json()["error"]
        return str(error["type"]), str(error["message"])
    except (ValueError, KeyError, TypeError):
        return "-", response.text


async def _sample_rss(pid: int, log: _Log) -> None:
    while True:
        rss = _tree_rss_mb(pid)
        if rss is not None:
            log.peak_rss_mb = max(rss, log.peak_rss_mb or 0.0)
        await asyncio.sleep(RSS_EVERY_S)


def _tree_rss_mb(pid: int) -> float | None:
    """Sum of ``VmRSS`` over ``pid`` and its descendants (None without ``/proc``)."""
    children: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            parent = int(stat.read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue
        children.setdefault(parent, []).append(int(stat.parent.name))
    total, todo, seen = 0, [pid], False
    while todo:
        current = todo.pop()
        kib = _rss_kib(current)
        seen |= kib is not None
        total += kib or 0
        todo += children.get(current, [])
    return total / 1024 if seen else None


def _rss_kib(pid: int) -> int | None:
    try:
        lines = Path(f"/proc/{pid}/status").read_text().splitlines()
    except OSError:
        return None
    return next((int(line.split()[1]) for line in lines if line.startswith("VmRSS:")), None)


# ---------------------------------------------------------------------- afterwards
def _settle(http: httpx.Client, upload_ids: list[str], timeout: float) -> tuple[dict[str, dict], float]:
    """Poll ``GET /uploads/{id}`` until every upload is verified or rejected, or ``timeout`` passes;
    the last status of each and the seconds it took."""
    start = time.monotonic()
    statuses: dict[str, dict] = {}
    pending = set(upload_ids)
    while True:
        for upload_id in sorted(pending):
            response = http.get(f"/uploads/{upload_id}")
            if response.status_code == 200:
                statuses[upload_id] = response.json()
        pending = {u for u in pending if statuses.get(u, {}).get("status") not in FINAL}
        if not pending or time.monotonic() - start > timeout:
            return statuses, time.monotonic() - start
        time.sleep(1)


def _total(http: httpx.Client) -> int:
    return _page(http, 0, 1)["total"]


def _page(http: httpx.Client, offset: int, limit: int) -> dict:
    response = http.get("/learnwares", params={"limit": limit, "offset": offset})
    if response.status_code != 200:
        raise RemoteDockError(f"GET /learnwares answered {response.status_code}: {response.text[:500]}")
    return response.json()


def _listing(http: httpx.Client) -> tuple[list[str], int]:
    """Every listed learnware id (in listing order, duplicates kept) and the listing's total."""
    ids: list[str] = []
    while True:
        page = _page(http, len(ids), PAGE)
        ids += [card["id"] for card in page["items"]]
        if not page["items"] or len(ids) >= page["total"]:
            return ids, page["total"]


def _lost(http: httpx.Client, statuses: dict[str, dict], uploaded: dict[str, str], listed: set[str],
          folder: Path) -> list[str]:
    """``"<upload id>: why"`` for each verified upload that is not listed and loadable as the zip sent."""
    folder.mkdir(parents=True, exist_ok=True)
    lost = []
    for upload_id, status in sorted(statuses.items()):
        if status["status"] != "verified":
            continue
        learnware_id = status.get("learnware_id")
        why = (f"verified as {learnware_id}, but the uploaded zip's id is {uploaded[upload_id]}"
               if learnware_id != uploaded[upload_id] else
               "not listed" if learnware_id not in listed else _unloadable(http, learnware_id, folder))
        if why:
            lost.append(f"{upload_id}: {why}")
    shutil.rmtree(folder)
    return lost


def _unloadable(http: httpx.Client, learnware_id: str, folder: Path) -> str | None:
    """Why the learnware's package cannot be downloaded and opened with its specs and model, or None."""
    from modelreuse.learnware import Learnware

    response = http.get(f"/learnwares/{learnware_id}/package")
    if response.status_code != 200:
        return f"its package answered {response.status_code}"
    if hashlib.sha256(response.content).hexdigest()[:16] != learnware_id:
        return "the downloaded zip's SHA-256 does not start with its id"
    path = folder / f"{learnware_id}.zip"
    path.write_bytes(response.content)
    try:
        with Learnware.open(path) as lw:
            lw.load_specs()
            lw.load_model()
    except ModelReuseError as exc:
        return f"it does not load: {type(exc).__name__}: {exc}"
    return None


def _report(log: _Log, statuses: dict[str, dict], elapsed: float, settle_s: float, listed: list[str],
            lost: list[str], **fields) -> ServerLoadReport:
    final = [s for s in statuses.values() if s["status"] in FINAL]
    rejected = Counter(f"{s.get('error_type')}: {(s.get('reason') or '')[:200]}" for s in final
                       if s["status"] == "rejected")
    searches, uploads = len(log.seconds["search"]), len(log.seconds["upload"])
    return ServerLoadReport(
        seconds=round(elapsed, 3), searches=searches, uploads=uploads, searches_per_s=searches / elapsed,
        uploads_per_s=uploads / elapsed, latency_ms={k: _percentiles(v) for k, v in log.seconds.items()},
        errors=dict(log.errors), error_examples=log.examples, upload_pool_empty=log.pool_empty,
        uploads_acknowledged=len(log.uploads), uploads_verified=sum(s["status"] == "verified" for s in final),
        uploads_rejected=sum(rejected.values()), rejected_reasons=dict(rejected),
        uploads_unsettled=len(log.uploads) - len(final), settle_s=round(settle_s, 3), lost=lost,
        duplicated=sorted(i for i, count in Counter(listed).items() if count > 1), server_rss_mb=log.peak_rss_mb,
        notes=_notes(log), **fields)


def _notes(log: _Log) -> list[str]:
    if not log.pool_empty:
        return []
    return [f"the upload pool ran out: {log.pool_empty} requests drawn as uploads were searches instead "
            "(raise --upload-pool to keep the mix)"]


def _percentiles(seconds: list[float]) -> dict[str, float]:
    if not seconds:
        return {"count": 0}
    return {"count": len(seconds), "p50": float(np.percentile(seconds, 50) * 1000),
            "p99": float(np.percentile(seconds, 99) * 1000)}


def _database(db_url: str | None) -> str:
    return "sqlite" if db_url is None else db_url.split(":", 1)[0].split("+", 1)[0]


def _command(n, dock, db_url, postgres, clients, seconds, workers) -> str:
    where = f"--n {n}" if dock is None else f"--dock {dock}"
    db = " --postgres" if postgres else (" --db URL" if db_url else "")
    return f"modelreuse bench server-load {where}{db} --clients {clients} --seconds {seconds} --workers {workers}"
