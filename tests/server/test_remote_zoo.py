"""A zoo on a dock server: ``Client.fit((texts, y), model_zoo_path=URL)`` (or ``Client(dock=RemoteDock(...))``)
downloads the server's text feature extractors (uploaded here through RemoteDock.submit, validated in
the server's sandbox), validates them again into a temporary local dock, ranks them on the rows (which
never leave this machine) and reuses the top-k; the model saves with the extractors' packages."""

from __future__ import annotations

import numpy as np
import pytest

from modelreuse import Client
from modelreuse.dock import RemoteDock
from modelreuse.errors import EmptyDockError
from modelreuse.reuse.reused_model import ReusedModel
from tests.zoo.extractors import senteval_cr, text_extractor_packages


@pytest.fixture(scope="module")
def remote(sqlite_server, tmp_path_factory) -> RemoteDock:
    with RemoteDock(sqlite_server.url, token=sqlite_server.alice_token, cache=tmp_path_factory.mktemp("cache")) as dock:
        for package in text_extractor_packages(tmp_path_factory.mktemp("packages"), sources=("sms_spam",)):
            dock.submit(package)
        yield dock


def test_a_zoo_on_a_dock_server_is_reused_locally(remote, sqlite_server, tmp_path):
    X, y, X_test, y_test = senteval_cr(train=150, test=200)
    model = Client(token=sqlite_server.alice_token).fit(training_data=(X, y), model_zoo_path=sqlite_server.url,
                                                        reuser="concat_probe", k=2)
    assert model.reuser == "concat_probe" and len(model.ranking) == 2 and len(model.chosen) == 2
    assert set(model.ranking.ids) == {c["id"] for c in remote.list(task_type="feature_extraction")}
    assert model.score(X_test, y_test) > max(np.mean(y_test == c) for c in np.unique(y_test)) + 0.02
    loaded = ReusedModel.load(model.save(tmp_path / "model"))
    np.testing.assert_array_equal(loaded.predict(X_test), model.predict(X_test))
    images = np.zeros((20, 28, 28), np.uint8)
    with pytest.raises(EmptyDockError, match="has no image feature extractor"):
        Client(dock=remote).fit(training_data=(images, np.arange(20) % 2))
