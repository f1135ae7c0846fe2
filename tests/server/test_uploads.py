"""Uploads through real HTTP, on SQLite and PostgreSQL: a real learnware goes through the queue and
the sandbox to ``verified`` and can be listed, fetched, downloaded, re-versioned and deleted; every
refused request (401, 403, 409, 413, 422, a package the sandbox rejects) answers with the library's
error type and leaves the dock, the queue and the files under the dock root as they were."""

from __future__ import annotations

import hashlib
import io
import json
import pickle
import socket
import zipfile
from pathlib import Path

import pytest
import skops.io as sio

from modelreuse.learnware import Learnware
from tests.dock.conftest import build_ridge, station_rows  # noqa: F401  (station_rows is a fixture)

SERVER_ARGS = ["--max-upload-mb", "1"]
LIMIT = 1024 * 1024


@pytest.fixture(scope="module")
def packages(tmp_path_factory, station_rows) -> dict[float, bytes]:  # noqa: F811
    """Zips of three real Ridge learnwares (``Learnware.to_zip``), by alpha."""
    folder = tmp_path_factory.mktemp("packages")
    zips = {}
    for alpha in (1.0, 2.0, 3.0):
        lw = build_ridge(folder / f"ridge{alpha:g}", station_rows, alpha=alpha)
        zips[alpha] = lw.to_zip(folder / f"ridge{alpha:g}.zip").read_bytes()
    return zips


def upload(client, body, **params):
    return client.post("/uploads", content=body, params=params, headers={"Content-Type": "application/zip"})


@pytest.fixture(scope="module")
def admin_learnware(live_server, packages) -> str:
    """The id of a learnware the admin uploaded (verified)."""
    with live_server.client(live_server.admin_token) as admin:
        accepted = upload(admin, packages[1.0])
        assert accepted.status_code == 202, accepted.text
        status = live_server.wait_for_upload(admin, accepted.json()["upload_id"])
    assert status["status"] == "verified", status
    return status["learnware_id"]


def test_an_upload_is_verified_then_listed_fetched_and_downloaded(live_server, admin_learnware, packages, tmp_path):
    with live_server.client() as anonymous:
        page = anonymous.get("/learnwares").json()
        detail = anonymous.get(f"/learnwares/{admin_learnware}").json()
        download = anonymous.get(f"/learnwares/{admin_learnware}/package")
    assert page["total"] == 1 and [c["id"] for c in page["items"]] == [admin_learnware]
    card = page["items"][0]
    assert (card["uploaded_by"], card["version"], card["family"], card["superseded_by"]) == ("admin", 1, admin_learnware, None)
    assert detail["manifest"]["name"] == "Wanliu ridge 1" and [v["id"] for v in detail["versions"]] == [admin_learnware]
    assert download.status_code == 200 and download.headers["content-type"] == "application/zip"
    assert download.content == packages[1.0]  # Learnware.to_zip is already the dock's canonical zip
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


def test_writes_without_a_token_are_401_and_change_nothing(live_server, admin_learnware, packages):
    before = live_server.snapshot()
    with live_server.client() as anonymous:
        answers = [upload(anonymous, packages[2.0]), anonymous.delete(f"/learnwares/{admin_learnware}")]
    assert [a.status_code for a in answers] == [401, 401]
    assert {a.json()["error"]["type"] for a in answers} == {"AuthenticationError"}
    assert live_server.snapshot() == before


def test_another_users_learnware_is_403_and_unchanged(live_server, admin_learnware, packages):
    before = live_server.snapshot()
    with live_server.client(live_server.alice_token) as alice:
        answers = [alice.delete(f"/learnwares/{admin_learnware}"),
                   upload(alice, packages[2.0], replaces=admin_learnware)]
        unknown = [alice.delete("/learnwares/0000000000000000"), upload(alice, packages[2.0], replaces="0" * 16)]
    assert [a.status_code for a in answers] == [403, 403], [a.text for a in answers]
    assert {a.json()["error"]["type"] for a in answers} == {"PermissionDeniedError"}
    assert [a.status_code for a in unknown] == [404, 404]
    assert live_server.snapshot() == before


def test_a_duplicate_is_409_and_changes_nothing(live_server, admin_learnware, packages):
    before = live_server.snapshot()
    with live_server.client(live_server.alice_token) as alice:
        answer = upload(alice, packages[1.0])
    assert answer.status_code == 409 and answer.json()["error"]["type"] == "DuplicateLearnwareError"
    assert admin_learnware in answer.json()["error"]["message"]
    assert live_server.snapshot() == before


def test_an_oversized_upload_is_413_before_and_while_reading(live_server, admin_learnware):
    before = live_server.snapshot()
    with live_server.client(live_server.alice_token) as alice:
        declared = upload(alice, b"\0" * (LIMIT + 1))
        streamed = upload(alice, (b"\0" * 65536 for _ in range(LIMIT // 65536 + 2)))  # chunked: no Content-Length
    assert declared.status_code == streamed.status_code == 413
    assert streamed.json()["error"]["type"] == "PayloadTooLargeError"
    assert _raw_post_status(live_server, 10**12) == 413  # refused from the header alone, no body sent
    assert live_server.snapshot() == before


def _raw_post_status(server, content_length: int) -> int:
    """Send only the headers of an upload declaring ``content_length`` bytes; the answer's status."""
    host, port = server.url.removeprefix("http://").split(":")
    request = (f"POST /api/v1/uploads HTTP/1.1\r\nHost: {host}\r\nAuthorization: Bearer {server.alice_token}\r\n"
               f"Content-Type: application/zip\r\nContent-Length: {content_length}\r\n\r\n")
    with socket.create_connection((host, int(port)), timeout=30) as sock:
        sock.sendall(request.encode())
        return int(sock.recv(4096).split(b" ", 2)[1])


# ---------------------------------------------------------------------------- hostile packages
def _rewrite(package: bytes, replace: dict[str, bytes | None], extra: dict[str, bytes] | None = None) -> bytes:
    """``package`` with entries replaced (None: dropped) and ``extra`` entries added, names as given."""
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(package)) as src, zipfile.ZipFile(out, "w") as dst:
        for info in src.infolist():
            data = replace.get(info.filename, src.read(info))
            if data is not None:
                dst.writestr(info.filename, data)
        for name, data in (extra or {}).items():
            dst.writestr(zipfile.ZipInfo(name), data)
    return out.getvalue()


class _WriteMarker:
    """Unpickling this writes the marker file."""

    def __init__(self, path: str):
        self.path = path

    def __reduce__(self):
        return (Path.write_text, (Path(self.path), "ran"))


def _pickled_model(package: bytes, marker: Path) -> bytes:
    manifest = json.loads(zipfile.ZipFile(io.BytesIO(package)).read("manifest.json"))
    manifest["artifact"] = {"format": "pickle", "file": "model.pkl"}
    return _rewrite(package, {"model.skops": None, "manifest.json": json.dumps(manifest).encode()},
                    {"model.pkl": pickle.dumps(_WriteMarker(str(marker)))})


MALFORMED = {
    "empty": (lambda p, m: b"", "UnsafeArchiveError"),
    "not a zip": (lambda p, m: b"PK\x03\x04 this is not a zip" * 50, "UnsafeArchiveError"),
    "manifest not JSON": (lambda p, m: _rewrite(p, {"manifest.json": b"{'name': "}), "ManifestError"),
    "no manifest": (lambda p, m: _rewrite(p, {"manifest.json": None}), "ManifestError"),
    "path traversal": (lambda p, m: _rewrite(p, {}, {"../../escaped.txt": b"outside"}), "UnsafeArchiveError"),
    "pickle model": (_pickled_model, "UntrustedArtifactError"),
}


@pytest.mark.parametrize("case", sorted(MALFORMED))
def test_a_malformed_package_is_422_runs_nothing_and_changes_nothing(case, live_server, admin_learnware, packages,
                                                                      tmp_path):
    make, error_type = MALFORMED[case]
    marker = tmp_path / "marker"
    before = live_server.snapshot()
    with live_server.client(live_server.alice_token) as alice:
        answer = upload(alice, make(packages[2.0], marker))
    assert answer.status_code == 422, answer.text
    assert answer.json()["error"]["type"] == error_type
    assert str(live_server.root) not in answer.text  # the server's folders are never shown
    assert live_server.snapshot() == before
    assert not marker.exists() and not (live_server.root.parent / "escaped.txt").exists()


def _hostile_skops(package: bytes, command: str) -> bytes:
    """``package`` whose Ridge's ``alpha`` is a skops node that calls ``os.system(command)``."""
    with zipfile.ZipFile(io.BytesIO(package)) as zf:
        model = zf.read("model.skops")
    with zipfile.ZipFile(io.BytesIO(sio.dumps((command,)))) as zf:
        args = json.loads(zf.read("schema.json"))
    args.pop("protocol"), args.pop("_skops_version")
    with zipfile.ZipFile(io.BytesIO(model)) as zf:
        entries = {name: zf.read(name) for name in zf.namelist()}
    schema = json.loads(entries["schema.json"])
    schema["content"]["content"]["alpha"] = {"__class__": "system", "__module__": "os",
                                             "__loader__": "ConstructorFromReduceNode", "content": args}
    entries["schema.json"] = json.dumps(schema).encode()
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as zf:
        for name, data in entries.items():
            zf.writestr(name, data)
    return _rewrite(package, {"model.skops": out.getvalue()})


def test_a_hostile_model_passes_the_cheap_checks_and_is_rejected_in_the_sandbox(live_server, admin_learnware,
                                                                                packages, tmp_path):
    marker = tmp_path / "marker"
    before = live_server.snapshot()
    with live_server.client(live_server.alice_token) as alice:
        accepted = upload(alice, _hostile_skops(packages[2.0], f"touch {marker}"))
        assert accepted.status_code == 202 and accepted.json()["status"] == "pending", accepted.text
        status = live_server.wait_for_upload(alice, accepted.json()["upload_id"])
    assert (status["status"], status["error_type"]) == ("rejected", "UntrustedArtifactError"), status
    assert str(live_server.root) not in status["reason"]
    assert "os.system" in status["reason"] and status["learnware_id"] is None
    ids, revision, uploads, files = live_server.snapshot()
    assert (ids, revision, uploads - 1, files) == before  # one more (rejected) row in the queue, nothing else
    assert not marker.exists()


# ---------------------------------------------------------------------------- versions and delete
def test_a_new_version_supersedes_the_old_one_until_deleted(live_server, admin_learnware, packages):
    with live_server.client(live_server.alice_token) as alice:
        first = _publish(live_server, alice, packages[2.0])
        second = _publish(live_server, alice, packages[3.0], replaces=first)
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


# ---------------------------------------------------------------------------- the queue's claims
@pytest.fixture(params=["sqlite", "postgresql"])
def queue_state(request, tmp_path):
    """A server state (no HTTP, no workers) on a fresh dock, to drive the queue's claims by hand."""
    from modelreuse.bench.postgres import fresh_database
    from modelreuse.server.app import open_state
    from modelreuse.server.settings import ServerSettings

    db_url = None
    if request.param == "postgresql":
        db_url = fresh_database(request.getfixturevalue("postgres_url"), f"queue_{tmp_path.name}")
    state = open_state(ServerSettings(dock_root=tmp_path / "dock", db_url=db_url))
    yield state
    state.dock.engine.dispose()



def _queued(state, package: bytes):
    from modelreuse.server.accounts import Principal
    from modelreuse.server.uploads import submit_upload

    return submit_upload(state, Principal("alice", frozenset({"write"})), [package[:100], package[100:]])


def _age_claims(state) -> None:
    """Make every claim look older than any reclaim delay (as if its process died long ago)."""
    import datetime as dt

    from sqlalchemy import update
    from sqlalchemy.orm import Session

    from modelreuse.server.uploads import UploadRecord

    with Session(state.dock.engine) as session:
        session.execute(update(UploadRecord).values(claimed_at=dt.datetime(2000, 1, 1)))
        session.commit()


def test_one_claimer_wins_and_a_lost_claim_changes_nothing(queue_state, packages):
    from modelreuse.server.uploads import staged_path, upload_status
    from modelreuse.server.validation_worker import _finish, claim_next

    queued = _queued(queue_state, packages[1.0])
    first = claim_next(queue_state.dock.engine)
    assert (first.upload_id, first.attempts) == (queued.upload_id, 1)
    assert claim_next(queue_state.dock.engine) is None
    assert upload_status(queue_state, queued.upload_id).status == "validating"
    _age_claims(queue_state)  # the first claimer's process "died"
    second = claim_next(queue_state.dock.engine)
    assert (second.upload_id, second.attempts) == (queued.upload_id, 2)
    _finish(queue_state, first, error=("ModelPredictError", "late"))  # the first claimer was only slow
    assert upload_status(queue_state, queued.upload_id).status == "validating"
    assert staged_path(queue_state, queued.upload_id).is_file()


def test_a_reclaimed_upload_adopts_what_its_dead_claimer_stored(queue_state, packages):
    from modelreuse.server.ownership import uploader_of
    from modelreuse.server.uploads import staged_path, upload_status
    from modelreuse.server.validation_worker import claim_next, validate

    queued = _queued(queue_state, packages[1.0])
    claim_next(queue_state.dock.engine)
    stored = queue_state.dock.submit(staged_path(queue_state, queued.upload_id), validate=False)  # then it died
    _age_claims(queue_state)
    validate(queue_state, claim_next(queue_state.dock.engine))
    status = upload_status(queue_state, queued.upload_id)
    assert (status.status, status.learnware_id) == ("verified", stored)
    assert uploader_of(queue_state, stored) == "alice"
    assert not staged_path(queue_state, queued.upload_id).exists()


def test_an_upload_interrupted_too_often_is_rejected(queue_state, packages):
    from modelreuse.server.uploads import upload_status
    from modelreuse.server.validation_worker import MAX_ATTEMPTS, claim_next, validate

    queued = _queued(queue_state, packages[1.0])
    for _ in range(MAX_ATTEMPTS):
        assert claim_next(queue_state.dock.engine) is not None
        _age_claims(queue_state)
    validate(queue_state, claim_next(queue_state.dock.engine))
    status = upload_status(queue_state, queued.upload_id)
    assert status.status == "rejected" and "interrupted" in status.reason
    assert len(queue_state.dock) == 0
