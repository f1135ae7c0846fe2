"""RemoteDock against a live server: a real learnware is uploaded (sandboxed on the server), listed,
downloaded (digest checked, unpacked safely), loaded, searched and removed with the local Dock's
methods; server errors come back as the same library error classes; a search sends only the
task's spec, never the rows."""

from __future__ import annotations

import io
import socket

import numpy as np
import pytest

from modelreuse.dock import Dock, RemoteDock, open_dock
from modelreuse.errors import (
    AuthenticationError,
    DuplicateLearnwareError,
    LearnwareNotFoundError,
    PermissionDeniedError,
    RemoteDockError,
    UntrustedArtifactError,
)
from modelreuse.task import Task
from tests.dock.conftest import build_ridge, station_rows  # noqa: F401  (station_rows is a fixture)
from tests.server.upload_helpers import hostile_skops


@pytest.fixture(scope="module")
def remote(sqlite_server, tmp_path_factory) -> RemoteDock:
    with RemoteDock(sqlite_server.url, token=sqlite_server.alice_token, cache=tmp_path_factory.mktemp("cache")) as dock:
        yield dock


@pytest.fixture(scope="module")
def uploaded(remote, station_rows, tmp_path_factory):  # noqa: F811
    """A real Ridge learnware uploaded through RemoteDock.submit (validated in the server's sandbox)."""
    lw = build_ridge(tmp_path_factory.mktemp("ridge") / "ridge", station_rows)
    return lw, remote.submit(lw)


def test_submit_list_get_load_and_remove(remote, uploaded, station_rows, sqlite_server):  # noqa: F811
    lw, learnware_id = uploaded
    assert len(remote) == 1 and [c["id"] for c in remote.list()] == [learnware_id]
    assert remote.list(task_type="classification") == []
    assert remote.list(manifests=True)[0]["manifest"]["name"] == lw.manifest.name
    card = remote.card(learnware_id)
    assert card["uploaded_by"] == "alice" and card["feature_space"] == lw.manifest.feature_space
    fetched = remote.get(learnware_id)
    assert fetched.id == learnware_id and fetched.root.is_relative_to(remote.cache)
    X, _ = station_rows
    np.testing.assert_allclose(remote.load_model(learnware_id).predict(X[:20]), lw.load_model().predict(X[:20]))
    local = Dock(sqlite_server.root)
    assert local.get(learnware_id).manifest == fetched.manifest

    with pytest.raises(DuplicateLearnwareError):
        remote.submit(lw.root)
    remote.remove(learnware_id)
    assert len(remote) == 0 and not (remote.cache / "packages" / learnware_id).exists()
    with pytest.raises(LearnwareNotFoundError):
        remote.get(learnware_id)
    with pytest.raises(LearnwareNotFoundError, match="not a learnware id"):
        remote.card("../../etc/passwd")


def test_search_sends_the_spec_never_the_rows(sqlite_server, station_rows, tmp_path):  # noqa: F811
    """The only body a search sends is the task's RKME file (at most 80 weighted points for 400 rows),
    byte for byte the one computed here; the rows themselves are never sent, not even as a
    reduced-set point (each is the mean of at least 5 rows)."""
    from modelreuse.dock.remote import _spec_bytes

    lw = build_ridge(tmp_path / "ridge", station_rows, alpha=5.0)
    learnware_id = Dock(sqlite_server.root).submit(lw, validate=False)
    X, _ = station_rows
    task = Task(X=X, feature_names=lw.manifest.input_schema.feature_names)
    sent = []
    with RemoteDock(sqlite_server.url, cache=tmp_path / "cache") as remote:
        remote.http.event_hooks["request"].append(lambda request: sent.append(request))
        ranking = remote.search(task, k=3)
        by_text = remote.search("Wanliu ridge", method="semantic")
    assert ranking.ids[0] == learnware_id and "p_value" in ranking[0].details
    assert by_text.ids[0] == learnware_id
    spec_request, text_request = sent
    assert spec_request.url.path.endswith("/search/spec") and spec_request.content == _spec_bytes(task.rkme)
    Z = np.load(io.BytesIO(spec_request.content))["Z"]
    assert len(X) == 400 and Z.shape[1] == X.shape[1] and len(Z) <= 400 // 5
    assert np.abs(Z[:, None, :] - X[None, :, :]).max(axis=2).min() > 1e-9
    assert text_request.content == b'{"query":"Wanliu ridge","k":10,"filters":{},"exclude":[]}'


def test_server_errors_are_the_library_errors(sqlite_server, station_rows, tmp_path):  # noqa: F811
    lw = build_ridge(tmp_path / "ridge", station_rows, alpha=7.0)
    with RemoteDock(sqlite_server.url, cache=tmp_path / "anon") as anonymous:
        with pytest.raises(AuthenticationError, match="token"):
            anonymous.submit(lw)
    sqlite_server.accounts().create_user("bob")
    bob = sqlite_server.accounts().create_token("bob", ["read", "write"])
    not_bobs = Dock(sqlite_server.root).submit(lw, validate=False)
    with RemoteDock(sqlite_server.url, token=bob, cache=tmp_path / "b") as as_bob:
        with pytest.raises(PermissionDeniedError):
            as_bob.remove(not_bobs)
        hostile = tmp_path / "hostile.zip"
        hostile.write_bytes(hostile_skops(lw.to_zip(tmp_path / "plain.zip").read_bytes(), f"touch {tmp_path / 'pwned'}"))
        with pytest.raises(UntrustedArtifactError, match="os.system"):
            as_bob.submit(hostile)
    assert not (tmp_path / "pwned").exists()
    with RemoteDock(sqlite_server.url + "/elsewhere", cache=tmp_path / "c") as wrong_path:
        with pytest.raises(RemoteDockError, match="HTTPError"):
            len(wrong_path)
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        closed = f"http://127.0.0.1:{sock.getsockname()[1]}"
    with pytest.raises(RemoteDockError, match=closed.replace(".", r"\.")):
        len(RemoteDock(closed, cache=tmp_path / "d"))


def test_open_dock_chooses_by_location(sqlite_server, tmp_path, monkeypatch):
    monkeypatch.setenv("MODELREUSE_TOKEN", sqlite_server.alice_token)
    remote = open_dock(sqlite_server.url + "/")
    assert isinstance(remote, RemoteDock) and remote.url == sqlite_server.api
    assert remote.http.headers["Authorization"] == f"Bearer {sqlite_server.alice_token}"
    assert isinstance(open_dock(tmp_path / "local"), Dock) and open_dock(remote) is remote
