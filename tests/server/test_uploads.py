"""Uploads through real HTTP, on SQLite and PostgreSQL (the queue's rows, ownership and versions are
SQL): a real learnware goes through the queue and the sandbox to ``verified`` and can be listed,
fetched, downloaded, re-versioned and deleted; a refused request (401, 403, 404, 409) answers with
the library's error type and leaves the dock, the queue and the files under the dock root as they
were. Refused packages are in ``test_upload_refusals.py``, the queue's claims in
``test_upload_queue.py``."""

from __future__ import annotations

import hashlib

import pytest

from modelreuse.learnware import Learnware
from tests.server.upload_helpers import upload


@pytest.fixture(scope="module")
def admin_learnware(live_server, ridge_zips) -> str:
    """The id of a learnware the admin uploaded (verified)."""
    with live_server.client(live_server.admin_token) as admin:
        accepted = upload(admin, ridge_zips[1.0])
        assert accepted.status_code == 202, accepted.text
        status = live_server.wait_for_upload(admin, accepted.json()["upload_id"])
    assert status["status"] == "verified", status
    return status["learnware_id"]


def test_an_upload_is_verified_then_listed_fetched_and_downloaded(live_server, admin_learnware, ridge_zips, tmp_path):
    with live_server.client() as anonymous:
        page = anonymous.get("/learnwares").json()
        detail = anonymous.get(f"/learnwares/{admin_learnware}").json()
        download = anonymous.get(f"/learnwares/{admin_learnware}/package")
    assert page["total"] == 1 and [c["id"] for c in page["items"]] == [admin_learnware]
    card = page["items"][0]
    assert (card["uploaded_by"], card["version"], card["family"], card["superseded_by"]) == ("admin", 1, admin_learnware, None)
    assert detail["manifest"]["name"] == "Wanliu ridge 1" and [v["id"] for v in detail["versions"]] == [admin_learnware]
    assert download.status_code == 200 and download.headers["content-type"] == "application/zip"
    assert download.content == ridge_zips[1.0]  # Learnware.to_zip is already the dock's canonical zip
    assert hashlib.sha256(download.content).hexdigest()[:16] == admin_learnware
    (tmp_path / "got.zip").write_bytes(download.content)
    with Learnware.open(tmp_path / "got.zip") as lw:  # the library's safe extraction
        assert lw.manifest.name == "Wanliu ridge 1"
        assert lw.load_model().predict(lw.rkme.Z).shape == (len(lw.rkme.Z),)


def test_upload_status_is_the_uploaders(live_server, admin_learnware):
    with live_server.client(live_server.admin_token) as admin, live_server.client(live_server.alice_token) as alice:
        (mine,) = admin.get("/uploads").json()
        assert mine["learnware_id"] == admin_learnware and mine["user"] == "admin" and mine["finished_at"]
        assert alice.get("/uploads").json() == []
        refused = alice.get(f"/uploads/{mine['upload_id']}")
        missing = alice.get("/uploads/0123456789abcdef")
    assert refused.status_code == 403 and refused.json()["error"]["type"] == "PermissionDeniedError"
    assert missing.status_code == 404 and missing.json()["error"]["type"] == "UploadNotFoundError"


def test_writes_without_a_token_are_401_and_change_nothing(live_server, admin_learnware, ridge_zips):
    before = live_server.snapshot()
    with live_server.client() as anonymous:
        answers = [upload(anonymous, ridge_zips[2.0]), anonymous.delete(f"/learnwares/{admin_learnware}")]
    assert [a.status_code for a in answers] == [401, 401]
    assert {a.json()["error"]["type"] for a in answers} == {"AuthenticationError"}
    assert live_server.snapshot() == before


def test_another_users_learnware_is_403_and_unchanged(live_server, admin_learnware, ridge_zips):
    before = live_server.snapshot()
    with live_server.client(live_server.alice_token) as alice:
        answers = [alice.delete(f"/learnwares/{admin_learnware}"),
                   upload(alice, ridge_zips[2.0], replaces=admin_learnware)]
        unknown = [alice.delete("/learnwares/0000000000000000"), upload(alice, ridge_zips[2.0], replaces="0" * 16)]
    assert [a.status_code for a in answers] == [403, 403], [a.text for a in answers]
    assert {a.json()["error"]["type"] for a in answers} == {"PermissionDeniedError"}
    assert [a.status_code for a in unknown] == [404, 404]
    assert live_server.snapshot() == before


def test_a_duplicate_is_409_and_changes_nothing(live_server, admin_learnware, ridge_zips):
    before = live_server.snapshot()
    with live_server.client(live_server.alice_token) as alice:
        answer = upload(alice, ridge_zips[1.0])
    assert answer.status_code == 409 and answer.json()["error"]["type"] == "DuplicateLearnwareError"
    assert admin_learnware in answer.json()["error"]["message"]
    assert live_server.snapshot() == before


# ---------------------------------------------------------------------------- versions and delete
def test_a_new_version_supersedes_the_old_one_until_deleted(live_server, admin_learnware, ridge_zips):
    with live_server.client(live_server.alice_token) as alice:
        first = _publish(live_server, alice, ridge_zips[2.0])
        second = _publish(live_server, alice, ridge_zips[3.0], replaces=first)
        listed = [c["id"] for c in alice.get("/learnwares", params={"uploaded_by": "alice"}).json()["items"]]
        everything = alice.get("/learnwares", params={"uploaded_by": "alice", "include_superseded": True}).json()
        old, new = alice.get(f"/learnwares/{first}").json(), alice.get(f"/learnwares/{second}").json()
        assert alice.get(f"/learnwares/{first}/package").status_code == 200
        assert listed == [second] and [c["id"] for c in everything["items"]] == [first, second]
        assert (old["superseded_by"], new["superseded_by"], new["family"], new["version"]) == (second, None, first, 2)
        assert [v["id"] for v in new["versions"]] == [first, second] == [v["id"] for v in old["versions"]]

        assert alice.delete(f"/learnwares/{second}").status_code == 204
        assert alice.get(f"/learnwares/{second}").status_code == 404
        assert alice.get(f"/learnwares/{first}").json()["superseded_by"] is None
        assert alice.delete(f"/learnwares/{first}").status_code == 204
        assert alice.get("/learnwares", params={"uploaded_by": "alice", "include_superseded": True}).json()["total"] == 0
    ids, _, _, files = live_server.snapshot()
    assert ids == [admin_learnware]
    assert not [f for f in files if first in f or second in f]


def _publish(server, client, package: bytes, **params) -> str:
    accepted = upload(client, package, **params)
    assert accepted.status_code == 202, accepted.text
    status = server.wait_for_upload(client, accepted.json()["upload_id"])
    assert status["status"] == "verified", status
    return status["learnware_id"]


def test_metrics_count_requests_and_uploads(live_server, admin_learnware):
    with live_server.client() as anonymous:
        anonymous.get("/learnwares")
        body = anonymous.get("/metrics").json()
    listing = body["routes"]["GET /api/v1/learnwares"]
    assert listing["count"] >= 1 and 0 < listing["p50_ms"] <= listing["p99_ms"]
    assert body["uploads"]["verified"] >= 1
