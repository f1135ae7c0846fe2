"""RemoteDock treats the server as untrusted too: a package whose bytes do not hash to the id asked
for is refused with RemoteDockError, and nothing lands in the cache. The hostile server is a real
HTTP server (the standard library's) on loopback that answers every download with another zip."""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from modelreuse.dock import RemoteDock
from modelreuse.errors import RemoteDockError
from tests.dock.conftest import build_ridge, station_rows  # noqa: F401


@pytest.fixture
def hostile_server(station_rows, tmp_path):  # noqa: F811
    """Serves a real learnware zip for any package request, whatever id was asked for."""
    payload = build_ridge(tmp_path / "ridge", station_rows, alpha=3.0).to_zip(tmp_path / "real.zip").read_bytes()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):  # the standard library names the handler so
            self.send_response(200)
            self.send_header("Content-Type", "application/zip")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_a_package_that_does_not_hash_to_its_id_is_refused(hostile_server, tmp_path):
    cache = tmp_path / "cache"
    with RemoteDock(hostile_server, cache=cache) as remote, pytest.raises(RemoteDockError, match="SHA-256"):
        remote.get("0123456789abcdef")
    assert not (cache / "packages" / "0123456789abcdef").exists()
    assert [p for p in cache.rglob("*") if p.is_file()] == []
