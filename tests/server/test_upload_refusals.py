"""Refused uploads through real HTTP (a server with a 1 MB upload limit, on SQLite: every refusal
here happens before or outside the database): a package over the limit is 413 before and while it
is read, a malformed or code-running package is 422 with the library's error type, and a hostile
model that passes the cheap checks is rejected in the real sandbox. None runs code from the package
or changes the dock, the queue (but for the rejected row) or the files under the dock root."""

from __future__ import annotations

import socket

import pytest

from modelreuse.dock import Dock
from tests.server.upload_helpers import MALFORMED, hostile_skops, upload

SERVER_ARGS = ["--max-upload-mb", "1"]
LIMIT = 1024 * 1024


@pytest.fixture(scope="module")
def stored(sqlite_server, ridge_zips, tmp_path_factory) -> str:
    """The id of a learnware already in the server's dock (put in directly, as another process), so
    that "nothing changed" covers a dock with content."""
    package = tmp_path_factory.mktemp("stored") / "ridge1.zip"
    package.write_bytes(ridge_zips[1.0])
    return Dock(sqlite_server.root).submit(package, validate=False)


def test_an_oversized_upload_is_413_before_and_while_reading(sqlite_server, stored):
    before = sqlite_server.snapshot()
    with sqlite_server.client(sqlite_server.alice_token) as alice:
        declared = upload(alice, b"\0" * (LIMIT + 1))
        streamed = upload(alice, (b"\0" * 65536 for _ in range(LIMIT // 65536 + 2)))  # chunked: no Content-Length
    assert declared.status_code == streamed.status_code == 413
    assert streamed.json()["error"]["type"] == "PayloadTooLargeError"
    assert _raw_post_status(sqlite_server, 10**12) == 413  # refused from the header alone, no body sent
    assert sqlite_server.snapshot() == before


def _raw_post_status(server, content_length: int) -> int:
    """Send only the headers of an upload declaring ``content_length`` bytes; the answer's status."""
    host, port = server.url.removeprefix("http://").split(":")
    request = (f"POST /api/v1/uploads HTTP/1.1\r\nHost: {host}\r\nAuthorization: Bearer {server.alice_token}\r\n"
               f"Content-Type: application/zip\r\nContent-Length: {content_length}\r\n\r\n")
    with socket.create_connection((host, int(port)), timeout=30) as sock:
        sock.sendall(request.encode())
        return int(sock.recv(4096).split(b" ", 2)[1])


@pytest.mark.parametrize("case", sorted(MALFORMED))
def test_a_malformed_package_is_422_runs_nothing_and_changes_nothing(case, sqlite_server, stored, ridge_zips,
                                                                      tmp_path):
    make, error_type = MALFORMED[case]
    marker = tmp_path / "marker"
    before = sqlite_server.snapshot()
    with sqlite_server.client(sqlite_server.alice_token) as alice:
        answer = upload(alice, make(ridge_zips[2.0], marker))
    assert answer.status_code == 422, answer.text
    assert answer.json()["error"]["type"] == error_type
    assert str(sqlite_server.root) not in answer.text  # the server's folders are never shown
    assert sqlite_server.snapshot() == before
    assert not marker.exists() and not (sqlite_server.root.parent / "escaped.txt").exists()


def test_a_hostile_model_passes_the_cheap_checks_and_is_rejected_in_the_sandbox(sqlite_server, stored, ridge_zips,
                                                                                tmp_path):
    marker = tmp_path / "marker"
    before = sqlite_server.snapshot()
    with sqlite_server.client(sqlite_server.alice_token) as alice:
        accepted = upload(alice, hostile_skops(ridge_zips[2.0], f"touch {marker}"))
        assert accepted.status_code == 202 and accepted.json()["status"] == "pending", accepted.text
        status = sqlite_server.wait_for_upload(alice, accepted.json()["upload_id"])
    assert (status["status"], status["error_type"]) == ("rejected", "UntrustedArtifactError"), status
    assert str(sqlite_server.root) not in status["reason"]
    assert "os.system" in status["reason"] and status["learnware_id"] is None
    ids, revision, uploads, files = sqlite_server.snapshot()
    assert (ids, revision, uploads - 1, files) == before  # one more (rejected) row in the queue, nothing else
    assert not marker.exists()
