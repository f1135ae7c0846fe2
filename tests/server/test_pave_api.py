"""PAVE over HTTP on a live server: the dock's base adapter (GET /pave/base/{modality}, checked by
RemoteDock.pave_base), parameter search by a task vector alone (POST /pave/search, the library's own
ranking), uploads with a hostile or foreign PAVE spec refused with nothing stored; and a hostile
server (the standard library's HTTP server on loopback) whose base adapter RemoteDock refuses."""

from __future__ import annotations

import io
import threading
import zipfile
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import numpy as np
import pytest

from modelreuse._archive import write_zip
from modelreuse.dock import Dock, RemoteDock
from modelreuse.errors import (
    InvalidTaskDataError,
    RemoteDockError,
    SpecError,
    UnsafeArchiveError,
)
from modelreuse.specs.pave import PAVESpec
from modelreuse.specs.pave_base import PAVEBase
from modelreuse.task import Task
from tests.dock.test_pave_index import (  # noqa: F401  (module fixtures shared with the dock tests)
    CLUSTERS,
    _rewrite_spec,
    base,
    build,
    centres,
    model,
    packages,
    task_vector,
    vector_near,
)


@pytest.fixture(scope="module")
def pave_dock(sqlite_server, packages):  # noqa: F811
    """The server's dock holding the PAVE learnwares (put in directly, as another process)."""
    dock = Dock(sqlite_server.root)
    return dock, dock.submit_many(packages, validate=False)


@pytest.fixture
def remote(sqlite_server, tmp_path):
    with RemoteDock(sqlite_server.url, token=sqlite_server.alice_token, cache=tmp_path / "cache") as dock:
        yield dock


def test_the_remote_base_is_the_docks(sqlite_server, remote, base):  # noqa: F811
    got = remote.pave_base("text")
    assert got.id == base.id == Dock(sqlite_server.root).pave_base("text").id
    assert remote.pave_base("text") is got  # downloaded once per dock object
    with sqlite_server.client(sqlite_server.alice_token) as client:
        response = client.get("/pave/base/text")
        assert response.headers["x-pave-base-id"] == base.id
        assert sorted(zipfile.ZipFile(io.BytesIO(response.content)).namelist()) == \
            ["adapter_config.json", "adapter_model.safetensors"]
        unknown = client.get("/pave/base/tabular")
        assert unknown.status_code == 422 and unknown.json()["error"]["type"] == "SpecError"
        assert client.get("/pave/base/..%2F..%2Fetc").status_code in (404, 422)
    with sqlite_server.client() as anonymous:  # readable exactly when the listing is (the read scope)
        assert anonymous.get("/pave/base/text").status_code == anonymous.get("/learnwares").status_code
    with sqlite_server.client("mrt_not_a_token") as stranger:
        assert stranger.get("/pave/base/text").status_code == 401
    with pytest.raises(InvalidTaskDataError, match="modalities"):
        remote.pave_base("../text")


def test_remote_parameter_search_ranks_like_the_library(pave_dock, remote, base, centres):  # noqa: F811
    dock, ids = pave_dock
    query = task_vector(base, centres[2])
    got = remote.search(query, method="parameter", k=3)
    local = dock.search(query, method="parameter", k=3)
    assert got.method == "parameter" and got.ids == local.ids
    assert {ids.index(i) % CLUSTERS for i in got.ids[:2]} == {2}
    np.testing.assert_allclose([e.score for e in got], [e.score for e in local], atol=1e-9)
    assert got.details["base_id"] == base.id and "cosine" in got[0].reason
    assert remote.search(Task(pave=query), method="parameter", k=3, prefilter=2).ids == local.ids
    assert got.ids[0] not in remote.search(query, method="parameter", exclude=(got.ids[0],)).ids


def test_remote_parameter_search_refuses_bad_queries(pave_dock, sqlite_server, remote, tmp_path):
    other = PAVEBase.create("text", seed=1)
    foreign = PAVESpec.from_vector(np.ones(other.vector_length), other, steps=1, role="task", n_classes=2)
    with pytest.raises(SpecError, match="refit it"):
        remote.search(foreign, method="parameter")
    with pytest.raises(InvalidTaskDataError, match="task vector"):
        remote.search(Task(X=np.ones((3, 2))), method="parameter")
    before = sqlite_server.snapshot()
    with sqlite_server.client(sqlite_server.alice_token) as client:
        for body in (b"not an npz", b"PK\x03\x04" + b"\0" * 64):
            response = client.post("/pave/search", content=body, headers={"Content-Type": "application/octet-stream"})
            assert response.status_code == 422 and response.json()["error"]["type"] == "SpecError", response.text
    assert sqlite_server.snapshot() == before


@pytest.mark.parametrize("hostile", ["nan vector", "other base"])
def test_an_upload_with_a_bad_pave_spec_stores_nothing(pave_dock, sqlite_server, remote, base, centres, model,  # noqa: F811
                                                        tmp_path, hostile):
    if hostile == "other base":
        other = PAVEBase.create("text", seed=2)
        spec = PAVESpec.from_vector(vector_near(np.zeros(other.vector_length), 3), other, steps=1, role="model",
                                    n_classes=2)
    else:
        spec = PAVESpec.from_vector(vector_near(centres[0], 3), base, steps=1, role="model", n_classes=2)
    package = tmp_path / "hostile"
    build(package, model, spec, f"hostile {hostile}")
    if hostile == "nan vector":
        vector = spec.vector.copy()
        vector[::7] = np.nan
        _rewrite_spec(package, vector=vector)
    before = sqlite_server.snapshot()
    with pytest.raises(SpecError):
        remote.submit(package)
    ids, revision, _, files = sqlite_server.snapshot()
    assert (ids, revision) == before[:2] and [f for f in files if not f.startswith("uploads/")] == \
        [f for f in before[3] if not f.startswith("uploads/")]


# ---------------------------------------------------------------------- a hostile server
def _zip(files: dict[str, bytes]) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as zf:
        for name, data in files.items():
            zf.writestr(name, data)
    return out.getvalue()


@pytest.fixture(scope="module")
def base_zips(base, tmp_path_factory):  # noqa: F811
    """The real text base's zip, an image base's zip, and the text base's files."""
    root = tmp_path_factory.mktemp("bases")
    base.save(root / "text")
    PAVEBase.create("image").save(root / "image")
    files = {p.name: p.read_bytes() for p in (root / "text").iterdir()}
    return write_zip(root / "text", root / "text.zip").read_bytes(), \
        write_zip(root / "image", root / "image.zip").read_bytes(), files


def _serve(body: bytes, headers: dict[str, str]):
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):  # the standard library names the handler so
            self.send_response(200)
            self.send_header("Content-Type", "application/zip")
            self.send_header("Content-Length", str(len(body)))
            for key, value in headers.items():
                self.send_header(key, value)
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


@pytest.mark.parametrize("hostile, error", [
    ("not a zip", UnsafeArchiveError),
    ("three files", UnsafeArchiveError),
    ("a path outside", UnsafeArchiveError),
    ("pickle instead of safetensors", SpecError),
    ("config with code", SpecError),
    ("another id named", RemoteDockError),
    ("an image base for text", RemoteDockError),
])
def test_a_hostile_servers_base_is_refused(base, base_zips, tmp_path, hostile, error):  # noqa: F811
    text_zip, image_zip, files = base_zips
    body, named = text_zip, base.id
    if hostile == "not a zip":
        body = b"<html>hello</html>"
    elif hostile == "three files":
        body = _zip({**files, "extra.py": b"import os"})
    elif hostile == "a path outside":
        body = _zip({"../adapter_config.json": files["adapter_config.json"],
                     "adapter_model.safetensors": files["adapter_model.safetensors"]})
    elif hostile == "pickle instead of safetensors":
        import pickle

        body = _zip({"adapter_config.json": files["adapter_config.json"],
                     "adapter_model.safetensors": pickle.dumps({"lora_A": np.ones(3)})})
    elif hostile == "config with code":
        body = _zip({"adapter_config.json": b'{"peft_type": "LORA", "auto_map": {"x": "evil.Model"}}',
                     "adapter_model.safetensors": files["adapter_model.safetensors"]})
    elif hostile == "another id named":
        named = "cd" * 32
    else:
        body, named = image_zip, PAVEBase.create("image").id
    server = _serve(body, {"X-PAVE-Base-Id": named})
    try:
        with RemoteDock(f"http://127.0.0.1:{server.server_address[1]}", cache=tmp_path / "cache") as remote:
            with pytest.raises(error):
                remote.pave_base("text")
            assert remote._pave_bases == {}
    finally:
        server.shutdown()
        server.server_close()
    assert not (tmp_path / "cache").exists() or not any((tmp_path / "cache").rglob("*"))
