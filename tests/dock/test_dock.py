import shutil

import numpy as np
import pytest
from sklearn.ensemble import HistGradientBoostingRegressor

from modelreuse.dock import Dock
from modelreuse.errors import (
    DuplicateLearnwareError,
    EmptyDockError,
    LearnwareNotFoundError,
    ModelPredictError,
    SchemaError,
    UntrustedArtifactError,
)
from modelreuse.learnware import Learnware
from modelreuse.models.tabular import impute_means
from modelreuse.specs.rkme import RKMESpec
from modelreuse.task import Task
from tests.conftest import SITES, user_half


def _state(dock: Dock):
    files = sorted(p.relative_to(dock.root).as_posix() for p in dock.root.rglob("*")
                   if p.is_file() and p.name not in ("dock.sqlite", ".lock"))
    return len(dock), files


def test_submit_list_show_get(filled_dock):
    dock, ids = filled_dock
    assert len(dock) == len(SITES)
    names = {c["name"] for c in dock.list()}
    assert names == set(SITES)
    assert dock.list(tag="air") and not dock.list(tag="nope")
    assert dock.list(task_type="classification") == []
    card = dock.card(ids["Wanliu"])
    assert card["manifest"]["input_schema"]["feature_names"]
    lw = dock.get(ids["Wanliu"])
    assert lw.manifest.name == "Wanliu"


def test_statistical_search_finds_own_site_first(filled_dock, beijing):
    dock, ids = filled_dock
    for site in SITES:
        X, _ = user_half(beijing, site)
        ranking = dock.search(Task(X=X, task_type="regression"), k=4)
        assert ranking[0].learnware_id == ids[site], ranking.to_dict()
        assert ranking[0].score >= ranking[1].score
        assert "MMD" in ranking[0].reason


def test_search_needs_only_the_spec(filled_dock, beijing):
    dock, ids = filled_dock
    X, _ = user_half(beijing, "Huairou")
    spec = RKMESpec.fit(X, m=50)
    assert dock.search(spec, k=1)[0].learnware_id == ids["Huairou"]


def test_mixture_search_weights(filled_dock, beijing):
    dock, ids = filled_dock
    X = np.vstack([user_half(beijing, "Huairou")[0], user_half(beijing, "Wanliu")[0]])
    mix = dock.search(Task(X=X, task_type="regression"), method="mixture", max_learnwares=3)
    weights = {e.learnware_id: e.weight for e in mix}
    assert abs(sum(weights.values()) - 1) < 1e-9 and all(w > 0 for w in weights.values())
    assert {ids["Huairou"], ids["Wanliu"]} <= set(weights)


def test_semantic_search(filled_dock):
    dock, ids = filled_dock
    r = dock.search("Huairou station", method="semantic")
    assert r[0].learnware_id == ids["Huairou"]
    assert dock.search("", method="semantic", task_type="regression").ids


def test_duplicate_submit_rejected_and_dock_unchanged(filled_dock, site_learnwares):
    dock, _ = filled_dock
    before = _state(dock)
    with pytest.raises(DuplicateLearnwareError):
        dock.submit(site_learnwares["Wanliu"], validate=False)
    assert _state(dock) == before


def test_model_that_fails_to_predict_is_rejected_and_nothing_stored(beijing, tmp_path):
    dock = Dock(tmp_path / "dock")
    X = impute_means(beijing["Wanliu"]["X"][:300])
    est = HistGradientBoostingRegressor(max_iter=5).fit(X[:, :5], beijing["Wanliu"]["y"][:300])  # trained on 5 columns
    lw = Learnware.build(tmp_path / "bad", est, RKMESpec.fit(X, m=10, max_iter=0), name="bad", task_type="regression",
                         target="PM2.5")
    before = _state(dock)
    with pytest.raises(ModelPredictError, match="features"):
        dock.submit(lw)
    assert _state(dock) == before == (0, [])


def test_model_that_fails_to_load_is_rejected_and_nothing_stored(site_learnwares, tmp_path):
    from modelreuse.errors import ModelLoadError

    root = tmp_path / "corrupt"
    shutil.copytree(site_learnwares["Wanliu"].root, root)
    (root / "model.skops").write_bytes(b"this is not a skops archive")
    dock = Dock(tmp_path / "dock")
    with pytest.raises(ModelLoadError, match="cannot load skops"):
        dock.submit(root)
    assert _state(dock) == (0, [])


def test_wrong_declared_schema_rejected(beijing, site_learnwares, tmp_path):
    import json

    root = tmp_path / "schema"
    shutil.copytree(site_learnwares["Wanliu"].root, root)
    m = json.loads((root / "manifest.json").read_text())
    m["input_schema"] = {"n_features": 3, "feature_names": None, "encoder": None}
    (root / "manifest.json").write_text(json.dumps(m))
    dock = Dock(tmp_path / "dock")
    with pytest.raises(SchemaError, match="3"):
        dock.submit(root)
    assert len(dock) == 0


class Sleeper:
    def predict(self, X):
        import time

        time.sleep(60)


def test_pickle_without_trust_rejected_and_timeout_enforced(beijing, tmp_path):
    X = impute_means(beijing["Wanliu"]["X"][:200])
    lw = Learnware.build(tmp_path / "pk", Sleeper(), RKMESpec.fit(X, m=5, max_iter=0), name="pk",
                         task_type="regression", target="PM2.5", fmt="pickle")
    dock = Dock(tmp_path / "dock")
    with pytest.raises(UntrustedArtifactError, match="trust"):
        dock.submit(lw)
    with pytest.raises(ModelPredictError, match="exceeded"):
        dock.submit(lw, trust=True, timeout_s=8)
    assert _state(dock) == (0, [])


class Hog:
    def predict(self, X):
        return np.ones(8 * 1024**3 // 8)[: len(X)]  # asks for 8 GiB


def test_memory_limit_enforced(beijing, tmp_path):
    X = impute_means(beijing["Wanliu"]["X"][:200])
    lw = Learnware.build(tmp_path / "hog", Hog(), RKMESpec.fit(X, m=5, max_iter=0), name="hog",
                         task_type="regression", target="PM2.5", fmt="pickle")
    dock = Dock(tmp_path / "dock")
    with pytest.raises(ModelPredictError, match="MemoryError|out of memory"):
        dock.submit(lw, trust=True, memory_bytes=3 * 1024**3)
    assert _state(dock) == (0, [])


def test_empty_dock_and_missing_ids(tmp_path, beijing):
    dock = Dock(tmp_path / "empty")
    with pytest.raises(EmptyDockError):
        dock.search(Task(X=user_half(beijing, "Wanliu")[0], task_type="regression"))
    with pytest.raises(LearnwareNotFoundError):
        dock.get("0123456789abcdef")
    with pytest.raises(LearnwareNotFoundError):
        dock.remove("0123456789abcdef")


def test_remove_deletes_row_and_files(site_learnwares, tmp_path):
    dock = Dock(tmp_path / "d")
    lid = dock.submit(site_learnwares["Huairou"], validate=False)
    assert len(dock) == 1 and any((dock.root / "objects").rglob("*.zip"))
    dock.remove(lid)
    assert _state(dock) == (0, [])


def test_reopened_dock_sees_submissions(site_learnwares, tmp_path):
    lid = Dock(tmp_path / "d").submit(site_learnwares["Huairou"], validate=False)
    again = Dock(tmp_path / "d")
    assert again.list()[0]["id"] == lid
    assert again.load_model(lid).predict(again.get(lid).rkme.Z).shape == (again.get(lid).rkme.Z.shape[0],)
