"""The dock's persisted RKME index (modelreuse.dock.index) on real Beijing rows: reload, incremental
updates, removal and damaged or hostile files all give the results of a build from the store."""

from __future__ import annotations

import json
import pathlib
import shutil

import numpy as np
import pytest
from sklearn.linear_model import Ridge

from modelreuse.dock import Dock
from modelreuse.learnware import Learnware
from modelreuse.specs import rkme_index
from modelreuse.specs.rkme import RKMESpec
from modelreuse.task import Task
from tests.dock.conftest import COLUMNS

WINDOWS = 6


def _package(directory, rows, i: int) -> Learnware:
    """Learnware ``i``: Ridge on a window of 160 consecutive real rows starting at row 40 i."""
    X, y = rows[0][40 * i:40 * i + 160], rows[1][40 * i:40 * i + 160]
    return Learnware.build(directory / f"w{i}", Ridge(alpha=1.0 + i).fit(X, y), RKMESpec.fit(X, m=10, max_iter=5, seed=i),
                           name=f"window {i}", task_type="regression", target="PM2.5", feature_names=COLUMNS)


@pytest.fixture(scope="module")
def packages(station_rows, tmp_path_factory):
    root = tmp_path_factory.mktemp("windows")
    return [_package(root, station_rows, i) for i in range(WINDOWS)]


@pytest.fixture
def small_frame(monkeypatch):
    """Fix the prefilter frame by the first 3 learnwares, so 6 exercise appends after it is fixed."""
    monkeypatch.setattr(rkme_index, "FRAME_SEED", 3)


def _task(station_rows) -> Task:
    return Task(X=station_rows[0][90:250:2], feature_names=COLUMNS, task_type="regression")


def _results(dock: Dock, task: Task) -> list[tuple[str, float]]:
    """Top entries of a ranking that scores only 3 prefiltered learnwares (so the prefilter matters)."""
    ranking = dock.search(task, k=3, prefilter=3)
    return [(e.learnware_id, e.score) for e in ranking]


def _assert_same(a, b):
    assert [i for i, _ in a] == [i for i, _ in b]
    np.testing.assert_allclose([s for _, s in a], [s for _, s in b], rtol=0, atol=1e-9)


def _entry(dock: Dock) -> tuple[dict, pathlib.Path]:
    (entry,) = json.loads((dock.index.folder / "manifest.json").read_text())["spaces"].values()
    return entry, dock.index.folder / entry["folder"]


def test_reload_in_a_new_dock_reads_no_package(tmp_path, packages, station_rows, small_frame):
    dock = Dock(tmp_path / "d")
    dock.submit_many(packages, validate=False)
    task = _task(station_rows)
    first = _results(dock, task)
    entry, folder = _entry(dock)
    assert entry["n"] == WINDOWS
    assert isinstance(np.load(folder / "embeddings.npy", mmap_mode="r", allow_pickle=False), np.memmap)
    shutil.move(tmp_path / "d" / "objects", tmp_path / "objects")  # packages out of reach
    shutil.rmtree(tmp_path / "d" / "unpacked")
    _assert_same(_results(Dock(tmp_path / "d"), task), first)


def test_incremental_adds_equal_a_full_rebuild(tmp_path, packages, station_rows, small_frame):
    dock = Dock(tmp_path / "d")
    task = _task(station_rows)
    dock.submit_many(packages[:3], validate=False)
    _results(dock, task)  # the index is built here, then updated by each submit
    for p in packages[3:]:
        dock.submit(p, validate=False)
        assert _entry(dock)[0]["n"] == len(dock)
    _, folder = _entry(dock)
    incremental = {name: np.load(folder / f"{name}.npy", allow_pickle=False) for name in ("ids", "embeddings", "points")}
    results = _results(dock, task)
    dock.index.rebuild()
    _, rebuilt = _entry(dock)
    assert rebuilt != folder
    for name, array in incremental.items():
        np.testing.assert_array_equal(np.load(rebuilt / f"{name}.npy", allow_pickle=False), array)
    _assert_same(_results(Dock(tmp_path / "d"), task), results)


def test_remove_compacts_the_index(tmp_path, packages, station_rows, small_frame):
    dock = Dock(tmp_path / "d")
    ids = dock.submit_many(packages, validate=False)
    task = _task(station_rows)
    top = _results(dock, task)[0][0]
    for gone in (top, ids[0]):  # the best match, then one of the rows that fix the frame
        dock.remove(gone)
        entry, folder = _entry(dock)
        assert gone not in np.load(folder / "ids.npy", allow_pickle=False) and entry["n"] == len(dock)
        after = _results(dock, task)
        assert gone not in [i for i, _ in after]
        fresh = Dock(tmp_path / "d")
        fresh.index.rebuild()
        _assert_same(_results(fresh, task), after)


def test_a_second_dock_object_sees_another_ones_submit(tmp_path, packages, station_rows):
    first, second = Dock(tmp_path / "d"), Dock(tmp_path / "d")
    first.submit_many(packages[:4], validate=False)
    task = _task(station_rows)
    _results(first, task)
    second.submit_many(packages[4:], validate=False)
    assert {e.learnware_id for e in first.search(task, k=WINDOWS)} == {c["id"] for c in first.list()}


@pytest.mark.parametrize("damage", ["delete manifest", "delete array", "truncate array", "bad header",
                                    "wrong shape", "pickle payload", "stale revision"])
def test_damaged_index_is_rebuilt(tmp_path, packages, station_rows, damage):
    dock = Dock(tmp_path / "d")
    dock.submit_many(packages, validate=False)
    task = _task(station_rows)
    expected = _results(dock, task)
    entry, folder = _entry(dock)
    marker = tmp_path / "payload-ran"
    if damage == "delete manifest":
        (dock.index.folder / "manifest.json").unlink()
    elif damage == "delete array":
        (folder / "weights.npy").unlink()
    elif damage == "truncate array":
        data = (folder / "embeddings.npy").read_bytes()
        (folder / "embeddings.npy").write_bytes(data[:len(data) // 2])
    elif damage == "bad header":
        (folder / "starts.npy").write_bytes(b"\x93NUMPY not a header")
    elif damage == "wrong shape":
        points = np.load(folder / "points.npy")
        np.save(folder / "points.npy", np.hstack([points, points[:, :1]]))
    elif damage == "pickle payload":
        np.save(folder / "points.npy", np.array([_Payload(marker)], dtype=object), allow_pickle=True)
    else:  # an entry claiming the current revision over arrays of fewer learnwares
        stale = Dock(tmp_path / "stale")
        stale.submit_many(packages[:2], validate=False)
        _results(stale, task)
        old, old_folder = _entry(stale)
        shutil.rmtree(folder)
        shutil.copytree(old_folder, folder)
        manifest = json.loads((dock.index.folder / "manifest.json").read_text())
        (space,) = manifest["spaces"]
        manifest["spaces"][space] = {**old, "folder": entry["folder"], "revision": entry["revision"] - 1}
        (dock.index.folder / "manifest.json").write_text(json.dumps(manifest))
    _assert_same(_results(Dock(tmp_path / "d"), task), expected)
    assert not marker.exists()
    entry, folder = _entry(Dock(tmp_path / "d"))
    assert entry["n"] == WINDOWS and np.load(folder / "points.npy", allow_pickle=False).dtype == np.float64


class _Payload:
    """Pickles to a call that creates ``marker``: loading it with pickle would run code."""

    def __init__(self, marker: pathlib.Path):
        self.marker = marker

    def __reduce__(self):
        return pathlib.Path.touch, (self.marker,)


def test_a_failed_index_write_never_fails_a_committed_submit(tmp_path, packages, station_rows, monkeypatch):
    """Disk full while the index is written after a submit committed: the submit returns its id
    with a warning, and searches (in this process and a new one) equal a dock built normally."""
    from modelreuse.dock import index as dock_index

    reference = Dock(tmp_path / "ref")
    reference.submit_many(packages, validate=False)
    task = _task(station_rows)
    expected = _results(reference, task)
    dock = Dock(tmp_path / "d")
    dock.submit_many(packages[:5], validate=False)
    _results(dock, task)

    def disk_full(*_args, **_kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(dock_index, "_save", disk_full)
    with pytest.warns(dock_index.IndexWriteWarning, match="No space left"):
        added = dock.submit(packages[5], validate=False)
    assert added in {c["id"] for c in dock.list()}
    _assert_same(_results(dock, task), expected)  # from memory, without another write
    monkeypatch.undo()
    _assert_same(_results(Dock(tmp_path / "d"), task), expected)


def test_an_index_folder_that_cannot_be_created_only_warns(tmp_path, packages, station_rows):
    """Something else in the index's place (a file named ``index``): search warns and still answers."""
    reference = Dock(tmp_path / "ref")
    reference.submit_many(packages, validate=False)
    dock = Dock(tmp_path / "d")
    dock.submit_many(packages, validate=False)
    shutil.rmtree(dock.index.folder, ignore_errors=True)
    dock.index.folder.write_text("not a folder")
    task = _task(station_rows)
    with pytest.warns(UserWarning, match="could not write the dock's search index"):
        got = _results(Dock(tmp_path / "d"), task)
    _assert_same(got, _results(reference, task))
