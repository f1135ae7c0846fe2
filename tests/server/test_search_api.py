"""Search over HTTP on a live server: by a task's RKME file alone and by text, answered by the
library's own Dock.search (same ranking as a local search); hostile spec files are refused with a
typed error; the warm index sees learnwares another process adds or removes."""

from __future__ import annotations

import io
import os
import zipfile
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

from modelreuse.dock import Dock
from modelreuse.specs.rkme import RKMESpec
from modelreuse.task import Task
from tests.conftest import build_site_learnware, user_half


def put_stations(server, site_learnwares) -> dict[str, str]:
    """Station -> id of the four station learnwares in the server's dock, put in directly (as another
    process) unless they are there already (``live_server`` and ``sqlite_server`` share a dock)."""
    dock = server.dock()
    known = {c["name"]: c["id"] for c in dock.list()}
    if not set(site_learnwares) <= set(known):
        known = dict(zip(site_learnwares, dock.submit_many(list(site_learnwares.values()), validate=False)))
    dock.engine.dispose()
    return {site: known[site] for site in site_learnwares}


@pytest.fixture(scope="module")
def station_dock(live_server, site_learnwares):
    """The server's dock (opened here) and the ids of the four station learnwares in it."""
    return live_server.dock(), put_stations(live_server, site_learnwares)


@pytest.fixture(scope="module")
def station_dock_sqlite(sqlite_server, site_learnwares) -> dict[str, str]:
    """The ids of the four station learnwares in this module's SQLite server."""
    return put_stations(sqlite_server, site_learnwares)


def spec_bytes(spec: RKMESpec, tmp_path) -> bytes:
    path = tmp_path / "task.npz"
    spec.save(path)
    return path.read_bytes()


def post_spec(server, body, **params):
    with server.client(server.alice_token) as client:
        return client.post("/search/spec", content=body, params=params,
                           headers={"Content-Type": "application/octet-stream"})


def test_spec_search_ranks_like_the_library(live_server, station_dock, beijing, tmp_path):
    dock, ids = station_dock
    X, _ = user_half(beijing, "Huairou")
    spec = RKMESpec.fit(X, m=50, seed=0)
    response = post_spec(live_server, spec_bytes(spec, tmp_path), k=4, task_type="regression")
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["method"] == "statistical" and body["entries"][0]["learnware_id"] == ids["Huairou"]
    assert all("p_value" in e["details"] and "MMD^2" in e["reason"] for e in body["entries"])
    local = dock.search(Task.from_spec(spec, task_type="regression"), k=4).to_dict()
    assert [e["learnware_id"] for e in body["entries"]] == [e["learnware_id"] for e in local["entries"]]
    np.testing.assert_allclose([e["score"] for e in body["entries"]], [e["score"] for e in local["entries"]])
    assert body["details"]["feature_space"] == local["details"]["feature_space"]


def test_mixture_and_the_selector_options(sqlite_server, station_dock_sqlite, beijing, tmp_path):
    ids = list(station_dock_sqlite.values())
    X, _ = user_half(beijing, "Wanliu")
    body = spec_bytes(RKMESpec.fit(X, m=50), tmp_path)
    mixture = post_spec(sqlite_server, body, method="mixture", max_learnwares=2)
    assert mixture.status_code == 200, mixture.text
    entries = mixture.json()["entries"]
    assert 1 <= len(entries) <= 2 and set(e["learnware_id"] for e in entries) <= set(ids)
    assert sum(e["weight"] for e in entries) == pytest.approx(1.0)
    strict = post_spec(sqlite_server, body, alpha=0.5, calibrate=True, k=2).json()
    assert strict["details"]["alpha"] == 0.5 and len(strict["entries"]) == 2
    excluded = post_spec(sqlite_server, body, exclude=ids[:3]).json()
    assert [e["learnware_id"] for e in excluded["entries"]] == [ids[3]]
    for params, kind in (({"method": "semantic"}, "UnknownNameError"), ({"kind": "nope"}, "UnknownNameError"),
                         ({"max_learnwares": 2}, "UnknownNameError"),   # not a statistical option: as locally
                         ({"bogus": 1}, "RequestValidationError"), ({"k": 0}, "RequestValidationError")):
        refused = post_spec(sqlite_server, body, **params)
        assert (refused.status_code, refused.json()["error"]["type"]) == (422, kind), params


def test_text_search_with_filters(sqlite_server, station_dock_sqlite):
    ids = station_dock_sqlite
    with sqlite_server.client() as client:
        found = client.post("/search/text", json={"query": "Changping station", "k": 2,
                                                  "filters": {"task_type": "regression", "tag": "beijing"}})
        none = client.post("/search/text", json={"query": "PM2.5", "filters": {"task_type": "classification"}})
        bad = client.post("/search/text", json={"query": "x", "filters": {"colour": "red"}})
    assert found.status_code == 200, found.text
    assert found.json()["method"] == "semantic" and found.json()["entries"][0]["learnware_id"] == ids["Changping"]
    assert none.status_code == 404 and none.json()["error"]["type"] == "EmptyDockError"
    assert bad.status_code == 422


def _npz(**members) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return buffer.getvalue()


class _Marker:
    def __reduce__(self):
        return (open, ("/tmp/modelreuse-search-pwned", "w"))


def test_hostile_spec_files_are_refused_without_running_anything(sqlite_server, station_dock_sqlite, tmp_path):
    pickled = io.BytesIO()
    np.save(pickled, np.array([_Marker()], dtype=object), allow_pickle=True)
    good = io.BytesIO()
    np.save(good, np.zeros((3, 2)))
    hostile = {
        "not a zip": b"hello, I am not a spec",
        "object array (pickle)": _npz(**{"Z.npy": pickled.getvalue()}),
        "unknown member": _npz(**{"Z.npy": good.getvalue(), "evil.py": b"import os"}),
        "truncated": spec_bytes(RKMESpec.fit(np.random.default_rng(0).normal(size=(50, 3)), m=5), tmp_path)[:200],
        "empty": b"",
    }
    for what, body in hostile.items():
        response = post_spec(sqlite_server, body)
        assert response.status_code == 422, what
        assert response.json()["error"]["type"] == "SpecError", (what, response.text)
    assert not os.path.exists("/tmp/modelreuse-search-pwned")


def test_a_spec_over_the_limit_is_413(sqlite_server, station_dock_sqlite):
    too_big = b"\0" * (16 * 1024 * 1024 + 1)
    declared = post_spec(sqlite_server, too_big)
    assert declared.status_code == 413 and declared.json()["error"]["type"] == "PayloadTooLargeError"

    def chunks():  # no Content-Length: the limit holds while streaming
        for _ in range(17):
            yield b"\0" * (1024 * 1024)

    streamed = post_spec(sqlite_server, chunks())
    assert streamed.status_code == 413 and streamed.json()["error"]["type"] == "PayloadTooLargeError"


def test_the_warm_index_follows_other_processes(sqlite_server, station_dock_sqlite, beijing, tmp_path):
    """A learnware this test process (another process than the server) submits is found by the
    next search; once removed, it is gone; concurrent searches meanwhile all succeed."""
    names = beijing["_feature_names"]
    rows = {"X": beijing["Aotizhongxin"]["X"][::-1][:400], "y": beijing["Aotizhongxin"]["y"][::-1][:400]}
    extra = build_site_learnware(tmp_path, "Reversed", rows, names)
    query = spec_bytes(extra.rkme, tmp_path)
    dock = Dock(sqlite_server.root)

    def top(_=None) -> str:
        response = post_spec(sqlite_server, query, k=1)
        assert response.status_code == 200, response.text
        return response.json()["entries"][0]["learnware_id"]

    before = top()
    new_id = dock.submit(extra, validate=False)
    assert top() == new_id
    with ThreadPoolExecutor(8) as pool:
        found = pool.map(top, range(24))
        dock.remove(new_id)
        assert set(found) <= {new_id, before}
    assert top() == before


def test_recommend_and_route_with_saved_models(sqlite_server, station_dock_sqlite, beijing, tmp_path):
    """A real recommender (ModelLens trained on a leaderboard of station models) and a real router
    (kNN on the 16 shortest RouteLLM MT-Bench prompts), saved in their own formats under the server's folders,
    answer over HTTP as they do locally; unknown names and path characters are refused."""
    from modelreuse.config import cache_home
    from modelreuse.datasets.importers.routing import IMPORTERS
    from modelreuse.records.routing import RoutingRecords
    from modelreuse.routing.base import ROUTERS
    from modelreuse.routing.router import Router
    from modelreuse.selection.learned.modellens import ModelLens
    from tests.conftest import DATA, SITES

    held_out = {f"{s} held-out": user_half(beijing, s) for s in SITES}
    board = Dock(tmp_path / "records-dock")
    board.submit_many([build_site_learnware(tmp_path, s, beijing[s], beijing["_feature_names"], held_out)
                       for s in SITES], validate=False)
    lens = ModelLens(steps=100, members=1, seed=0).fit(board.leaderboard())  # texts embedded once per checkout
    lens.save(sqlite_server.root / "server" / "recommenders" / "stations")
    table = IMPORTERS.get("routellm_mt_bench")(DATA).table
    short = table.loc[table["prompt"].str.len().nsmallest(16).index].reset_index(drop=True)  # quick to encode
    router = Router(ROUTERS.get("knn")(k=3), cache=cache_home("route")).fit(RoutingRecords(short))
    router.save(sqlite_server.root / "server" / "routers" / "mt-bench")

    description = "hourly PM2.5 at a Beijing monitoring station"
    queries = ["Write a haiku about autumn.", "What is the derivative of x^3?"]
    with sqlite_server.client(sqlite_server.alice_token) as client:
        recommended = client.post("/recommend", json={"description": description, "recommender": "stations", "k": 3,
                                                      "task": "PM2.5 regression", "metric": "rmse"})
        routed = client.post("/route", json={"router": "mt-bench", "queries": queries})
        unknown = client.post("/route", json={"router": "nope", "queries": queries})
        escaping = client.post("/recommend", json={"description": "x", "recommender": "../../etc"})
    assert recommended.status_code == 200, recommended.text
    local = Dock(sqlite_server.root).recommend(description, ModelLens.load(
        sqlite_server.root / "server" / "recommenders" / "stations", None), task="PM2.5 regression", metric="rmse", k=3)
    assert [e["learnware_id"] for e in recommended.json()["entries"]] == local.ids
    assert set(local.ids) <= set(station_dock_sqlite.values())
    assert routed.status_code == 200, routed.text
    assert [c["model"] for c in routed.json()] == [c.model for c in router.route(queries)]
    assert unknown.status_code == 422 and "mt-bench" in unknown.json()["error"]["message"]
    assert escaping.status_code == 422 and escaping.json()["error"]["type"] == "UnknownNameError"
