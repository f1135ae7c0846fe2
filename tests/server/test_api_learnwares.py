"""Listing, cards and deletion through real HTTP (SQLite and PostgreSQL), on learnwares another
process adds to the server's dock with the library (as ``modelreuse dock submit`` would): pages
in dock order with the total, filters, the card fields of a learnware added outside the server,
and 404/403/422 answers that change nothing."""

from __future__ import annotations

import pytest
from sklearn.linear_model import Ridge

from modelreuse.learnware import Learnware
from modelreuse.specs.rkme import RKMESpec
from tests.dock.conftest import COLUMNS, station_rows  # noqa: F401  (station_rows is a fixture)

TAGS = {0: ["air", "beijing"], 1: ["air"], 2: ["water_quality"], 3: [], 4: ["air"]}
OWNERS = {0: "lab-a", 1: "lab-b", 2: "lab-a", 3: "lab-b", 4: "lab-a"}


@pytest.fixture(scope="module")
def added(live_server, station_rows, tmp_path_factory) -> list[str]:  # noqa: F811
    """Five real Ridge learnwares added to the server's dock by this process, in dock order."""
    X, y = station_rows
    rkme = RKMESpec.fit(X, m=10, max_iter=5)
    folder = tmp_path_factory.mktemp("learnwares")
    dock = live_server.dock()
    ids = [dock.submit(Learnware.build(folder / f"lw{i}", Ridge(alpha=i + 1.0).fit(X, y), rkme, name=f"ridge {i}",
                                       task_type="regression", target="PM2.5", feature_names=COLUMNS, tags=TAGS[i],
                                       owner=OWNERS[i]), validate=False)
           for i in range(5)]
    dock.engine.dispose()
    return ids


def listing(server, **params) -> dict:
    with server.client() as client:
        answer = client.get("/learnwares", params=params)
    assert answer.status_code == 200, answer.text
    return answer.json()


def test_pages_cover_the_dock_in_order_with_the_total(live_server, added):
    pages = [listing(live_server, limit=2, offset=offset) for offset in (0, 2, 4, 6)]
    assert [p["total"] for p in pages] == [5] * 4
    assert [[c["id"] for c in p["items"]] for p in pages] == [added[:2], added[2:4], added[4:], []]
    assert (pages[1]["limit"], pages[1]["offset"]) == (2, 2)


@pytest.mark.parametrize("params, expected", [
    ({"tag": "air"}, [0, 1, 4]), ({"tag": "water_quality"}, [2]), ({"tag": "water"}, []),
    ({"owner": "lab-b"}, [1, 3]), ({"owner": "lab-a", "tag": "air"}, [0, 4]),
    ({"n_features": 4, "task_type": "regression"}, [0, 1, 2, 3, 4]), ({"n_features": 5}, []),
    ({"uploaded_by": "alice"}, []),
])
def test_filters(live_server, added, params, expected):
    page = listing(live_server, limit=2, **params)
    assert page["total"] == len(expected)
    assert [c["id"] for c in page["items"]] == [added[i] for i in expected[:2]]


def test_a_learnware_added_outside_the_server_has_no_uploader(live_server, added):
    with live_server.client() as client:
        card = client.get(f"/learnwares/{added[0]}").json()
    assert (card["uploaded_by"], card["version"], card["family"], card["superseded_by"]) == (None, 1, added[0], None)
    assert card["tags"] == TAGS[0] and card["owner"] == OWNERS[0] and card["spec_kinds"] == ["rkme", "semantic"]
    assert card["manifest"]["input_schema"]["feature_names"] == COLUMNS
    assert card["versions"] == [{"id": added[0], "version": 1, "created_at": None}]


def test_unknown_ids_are_404_and_bad_pages_422(live_server, added):
    before = live_server.snapshot()
    with live_server.client(live_server.admin_token) as admin:
        answers = [admin.get("/learnwares/ffffffffffffffff"), admin.get("/learnwares/ffffffffffffffff/package"),
                   admin.delete("/learnwares/ffffffffffffffff")]
        bad = [admin.get("/learnwares", params=p) for p in ({"limit": 0}, {"limit": 501}, {"offset": -1})]
    assert [a.status_code for a in answers] == [404] * 3
    assert {a.json()["error"]["type"] for a in answers} == {"LearnwareNotFoundError"}
    assert [a.status_code for a in bad] == [422] * 3
    assert live_server.snapshot() == before


def test_only_an_admin_deletes_a_learnware_without_an_uploader(live_server, added):
    before = live_server.snapshot()
    with live_server.client(live_server.alice_token) as alice:
        refused = alice.delete(f"/learnwares/{added[3]}")
    assert refused.status_code == 403 and refused.json()["error"]["type"] == "PermissionDeniedError"
    assert live_server.snapshot() == before
    with live_server.client(live_server.admin_token) as admin:
        assert admin.delete(f"/learnwares/{added[3]}").status_code == 204
    ids, _, _, files = live_server.snapshot()
    assert ids == sorted(added[:3] + added[4:]) and not [f for f in files if added[3] in f]
    assert listing(live_server)["total"] == 4
