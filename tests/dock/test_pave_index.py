"""The dock's PAVE side (modelreuse.dock.pave_index) on its real text base adapter: the shared base
(made once, the same everywhere, rebuilt when damaged), parameter search through the persisted
index (reload, incremental updates, removal, damaged or hostile files) and the submit check
(NaN, zero, another base, a task vector, a wrong modality: refused, nothing stored). Spec vectors
are built directly (the index is under test, not the fitting)."""

from __future__ import annotations

import json
import pathlib
import shutil
import threading

import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression

from modelreuse.dock import Dock
from modelreuse.dock.pave_index import BASE_DIR, BaseRebuiltWarning, published_base
from modelreuse.errors import EmptyDockError, SpecError
from modelreuse.learnware import Learnware
from modelreuse.models.encoders import TEXT_ENCODER
from modelreuse.specs.pave import PAVESpec
from modelreuse.specs.pave_base import WEIGHTS_FILE, PAVEBase
from modelreuse.task import Task

N_LEARNWARES = 6
CLUSTERS = 3


@pytest.fixture(scope="module")
def base() -> PAVEBase:
    return PAVEBase.create("text")


@pytest.fixture(scope="module")
def centres(base) -> np.ndarray:
    return np.random.default_rng(0).standard_normal((CLUSTERS, base.vector_length))


@pytest.fixture(scope="module")
def model():
    rng = np.random.default_rng(1)
    return LogisticRegression().fit(rng.standard_normal((20, 384)), np.arange(20) % 2)


def vector_near(centre: np.ndarray, seed: int) -> np.ndarray:
    return centre + 0.6 * np.random.default_rng(seed).standard_normal(centre.shape)


def build(directory: pathlib.Path, model, spec: PAVESpec | None, name: str, modality: str = "text") -> Learnware:
    return Learnware.build(directory, model, specs=[spec] if spec is not None else [], name=name,
                           task_type="classification", modality=modality, classes=[0, 1], n_features=384,
                           encoder=TEXT_ENCODER)


@pytest.fixture(scope="module")
def packages(tmp_path_factory, base, centres, model) -> list[Learnware]:
    """Learnware ``i`` has a model vector near centre ``i % 3``."""
    root = tmp_path_factory.mktemp("pave-packages")
    return [build(root / f"lw{i}", model, PAVESpec.from_vector(vector_near(centres[i % CLUSTERS], 100 + i), base,
                                                               steps=10, role="model", n_classes=2), f"lw{i}")
            for i in range(N_LEARNWARES)]


def task_vector(base: PAVEBase, centre: np.ndarray, seed: int = 7) -> PAVESpec:
    return PAVESpec.from_vector(vector_near(centre, seed), base, steps=10, role="task", n_classes=2)


def results(dock: Dock, query: PAVESpec, k: int = N_LEARNWARES) -> list[tuple[str, float]]:
    return [(e.learnware_id, e.score) for e in dock.search(query, method="parameter", k=k)]


def assert_same(a, b):
    assert [i for i, _ in a] == [i for i, _ in b]
    np.testing.assert_allclose([s for _, s in a], [s for _, s in b], rtol=0, atol=1e-6)


def entry(dock: Dock) -> tuple[dict, pathlib.Path]:
    (e,) = json.loads((dock.pave_index.folder / "manifest.json").read_text())["modalities"].values()
    return e, dock.pave_index.folder / e["folder"]


# ---------------------------------------------------------------------- the shared base
def test_the_dock_publishes_one_base_per_modality_the_same_everywhere(tmp_path, base):
    first, second = Dock(tmp_path / "a"), Dock(tmp_path / "b")
    made = first.pave_base("text")
    assert made.id == base.id == second.pave_base("text").id  # seeded: every dock, every process
    assert sorted(p.name for p in (tmp_path / "a" / BASE_DIR / "text").iterdir()) == \
        ["adapter_config.json", "adapter_model.safetensors"]
    assert PAVEBase.load(tmp_path / "a" / BASE_DIR / "text").id == base.id
    with pytest.raises(SpecError, match="modalities"):
        first.pave_base("tabular")


def test_concurrent_first_uses_make_the_base_once(tmp_path):
    docks = [Dock(tmp_path / "d") for _ in range(3)]
    ids: list[str] = []
    threads = [threading.Thread(target=lambda d=d: ids.append(d.pave_base("text").id)) for d in docks]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(ids) == 3 and len(set(ids)) == 1
    assert sorted(p.name for p in (tmp_path / "d" / BASE_DIR).iterdir()) == ["text"]  # no temporary left


def test_a_damaged_base_is_rebuilt_with_the_same_id(tmp_path, base):
    Dock(tmp_path / "d").pave_base("text")
    weights = tmp_path / "d" / BASE_DIR / "text" / WEIGHTS_FILE
    weights.write_bytes(weights.read_bytes()[:1000])
    with pytest.warns(BaseRebuiltWarning, match="damaged"):
        assert Dock(tmp_path / "d").pave_base("text").id == base.id
    assert PAVEBase.load(weights.parent).id == base.id


def test_a_rebuild_that_would_change_the_base_is_refused(tmp_path):
    dock = Dock(tmp_path / "d")
    folder = tmp_path / "d" / BASE_DIR / "text"
    dock.pave_base("text")
    (folder / "adapter_config.json").write_text("{}")
    before = {p.name: p.read_bytes() for p in folder.iterdir()}
    with pytest.raises(SpecError, match="restore the folder"):
        published_base(dock.root, dock._lock, "text", fitted_on=lambda: "cd" * 32)
    assert {p.name: p.read_bytes() for p in folder.iterdir()} == before


# ---------------------------------------------------------------------- search
def test_parameter_search_ranks_by_cosine(tmp_path, base, centres, packages):
    dock = Dock(tmp_path / "d")
    ids = dock.submit_many(packages, validate=False)
    query = task_vector(base, centres[1])
    ranking = dock.search(query, method="parameter", k=3)
    expected = sorted(((query.cosine(lw.spec("pave")), i) for i, lw in zip(ids, packages)), reverse=True)
    assert ranking.ids == [i for _, i in expected[:3]]
    assert {ids.index(i) % CLUSTERS for i in ranking.ids[:2]} == {1}
    np.testing.assert_allclose([e.score for e in ranking], [c for c, _ in expected[:3]], atol=1e-4)
    assert "cosine" in ranking[0].reason and ranking.details["base_id"] == base.id
    assert dock.search(Task(pave=query), method="parameter", k=3).ids == ranking.ids
    assert ids[ids.index(ranking.ids[0])] not in dock.search(query, method="parameter", exclude=(ranking.ids[0],)).ids


def test_a_query_on_another_base_or_rank_is_refused(tmp_path, base, packages):
    dock = Dock(tmp_path / "d")
    dock.submit_many(packages[:2], validate=False)
    for other in (PAVEBase.create("text", seed=1), PAVEBase.create("text", rank=8)):
        query = PAVESpec.from_vector(np.ones(other.vector_length), other, steps=1, role="task", n_classes=2)
        with pytest.raises(SpecError, match="refit it"):
            dock.search(query, method="parameter")


def test_a_dock_without_pave_learnwares_says_so(tmp_path, base, model):
    dock = Dock(tmp_path / "d")
    query = task_vector(base, np.ones(base.vector_length))
    with pytest.raises(EmptyDockError, match="pave"):
        dock.search(query, method="parameter")
    dock.submit(build(tmp_path / "plain", model, None, "no pave"), validate=False)
    with pytest.raises(EmptyDockError, match="pave"):
        dock.search(query, method="parameter")


def test_reload_in_a_new_dock_reads_no_package(tmp_path, base, centres, packages):
    dock = Dock(tmp_path / "d")
    dock.submit_many(packages, validate=False)
    query = task_vector(base, centres[0])
    first = results(dock, query)
    e, folder = entry(dock)
    assert e["n"] == N_LEARNWARES and e["length"] == base.vector_length and e["base_id"] == base.id
    assert isinstance(np.load(folder / "vectors.npy", mmap_mode="r", allow_pickle=False), np.memmap)
    shutil.move(tmp_path / "d" / "objects", tmp_path / "objects")  # packages out of reach
    shutil.rmtree(tmp_path / "d" / "unpacked")
    assert_same(results(Dock(tmp_path / "d"), query), first)


def test_incremental_adds_and_removals_equal_a_rebuild(tmp_path, base, centres, packages):
    dock = Dock(tmp_path / "d")
    query = task_vector(base, centres[2])
    ids = dock.submit_many(packages[:3], validate=False)
    results(dock, query)  # the index is built here, then updated by each submit and remove
    for p in packages[3:]:
        ids.append(dock.submit(p, validate=False))
        assert entry(dock)[0]["n"] == len(dock)
    dock.remove(ids[2])
    e, folder = entry(dock)
    assert e["n"] == N_LEARNWARES - 1 and ids[2] not in np.load(folder / "ids.npy", allow_pickle=False)
    incremental = {name: np.load(folder / f"{name}.npy", allow_pickle=False) for name in ("ids", "vectors", "sketches")}
    found = results(dock, query)
    assert ids[2] not in [i for i, _ in found]
    dock.pave_index.rebuild()
    _, rebuilt = entry(dock)
    assert rebuilt != folder
    for name, array in incremental.items():
        np.testing.assert_array_equal(np.load(rebuilt / f"{name}.npy", allow_pickle=False), array)
    assert_same(results(Dock(tmp_path / "d"), query), found)


def test_a_second_dock_object_sees_another_ones_submit(tmp_path, base, centres, packages):
    first, second = Dock(tmp_path / "d"), Dock(tmp_path / "d")
    first.submit_many(packages[:4], validate=False)
    query = task_vector(base, centres[0])
    results(first, query)
    second.submit_many(packages[4:], validate=False)
    assert {i for i, _ in results(first, query)} == {c["id"] for c in first.list()}


@pytest.mark.parametrize("damage", ["delete manifest", "delete array", "truncate vectors", "bad header", "wrong shape",
                                    "wrong dtype", "pickle payload", "bad base id", "stale revision"])
def test_damaged_index_is_rebuilt(tmp_path, base, centres, packages, damage):
    dock = Dock(tmp_path / "d")
    dock.submit_many(packages, validate=False)
    query = task_vector(base, centres[1])
    expected = results(dock, query)
    e, folder = entry(dock)
    manifest_path = dock.pave_index.folder / "manifest.json"
    marker = tmp_path / "payload-ran"
    if damage == "delete manifest":
        manifest_path.unlink()
    elif damage == "delete array":
        (folder / "sketches.npy").unlink()
    elif damage == "truncate vectors":
        data = (folder / "vectors.npy").read_bytes()
        (folder / "vectors.npy").write_bytes(data[:len(data) // 2])
    elif damage == "bad header":
        (folder / "ids.npy").write_bytes(b"\x93NUMPY not a header")
    elif damage == "wrong shape":
        sketches = np.load(folder / "sketches.npy")
        np.save(folder / "sketches.npy", sketches[:, :-1])
    elif damage == "wrong dtype":
        np.save(folder / "vectors.npy", np.load(folder / "vectors.npy").astype(np.float64))
    elif damage == "pickle payload":
        np.save(folder / "vectors.npy", np.array([_Payload(marker)], dtype=object), allow_pickle=True)
    elif damage == "bad base id":
        manifest = json.loads(manifest_path.read_text())
        manifest["modalities"]["text"]["base_id"] = "../../etc"
        manifest_path.write_text(json.dumps(manifest))
    else:  # an entry claiming the current revision over arrays of fewer learnwares
        stale = Dock(tmp_path / "stale")
        stale.submit_many(packages[:2], validate=False)
        results(stale, query)
        old, old_folder = entry(stale)
        shutil.rmtree(folder)
        shutil.copytree(old_folder, folder)
        manifest = json.loads(manifest_path.read_text())
        manifest["modalities"]["text"] = {**old, "folder": e["folder"], "revision": e["revision"] - 1}
        manifest_path.write_text(json.dumps(manifest))
    assert_same(results(Dock(tmp_path / "d"), query), expected)
    assert not marker.exists()
    e, folder = entry(Dock(tmp_path / "d"))
    assert e["n"] == N_LEARNWARES and np.load(folder / "vectors.npy", allow_pickle=False).dtype == np.float32


class _Payload:
    """Pickles to a call that creates ``marker``: loading it with pickle would run code."""

    def __init__(self, marker: pathlib.Path):
        self.marker = marker

    def __reduce__(self):
        return pathlib.Path.touch, (self.marker,)


# ---------------------------------------------------------------------- the submit check
def _rewrite_spec(package: pathlib.Path, **arrays) -> None:
    """Overwrite fields of the package's ``specs/pave.npz`` as a hostile uploader would."""
    path = package / "specs" / "pave.npz"
    with np.load(path, allow_pickle=False) as f:
        fields = {k: f[k] for k in f.files}
    with open(path, "wb") as out:
        np.savez(out, **{**fields, **arrays})


@pytest.mark.parametrize("hostile", ["nan", "inf", "zero", "norm", "task vector", "other base", "other rank",
                                     "image card"])
def test_submit_refuses_a_bad_pave_spec_and_stores_nothing(tmp_path, base, centres, model, hostile):
    dock = Dock(tmp_path / "d")
    good = PAVESpec.from_vector(vector_near(centres[0], 1), base, steps=10, role="model", n_classes=2)
    spec, modality = good, "text"
    if hostile == "task vector":
        spec = PAVESpec.from_vector(good.vector, base, steps=10, role="task", n_classes=2)
    elif hostile in ("other base", "other rank"):
        other = PAVEBase.create("text", seed=1) if hostile == "other base" else PAVEBase.create("text", rank=8)
        spec = PAVESpec.from_vector(np.ones(other.vector_length), other, steps=10, role="model", n_classes=2)
    elif hostile == "image card":
        modality = "image"
    package = tmp_path / "package"
    build(package, model, spec, "hostile", modality=modality)
    bad = good.vector.copy()
    if hostile in ("nan", "inf"):
        bad[5] = np.nan if hostile == "nan" else np.inf
        _rewrite_spec(package, vector=bad)
    elif hostile == "zero":
        _rewrite_spec(package, vector=np.zeros_like(bad), norm=np.float64(0.0))
    elif hostile == "norm":
        _rewrite_spec(package, norm=np.float64(good.norm * 2))
    with pytest.raises(SpecError):
        dock.submit(package)
    assert len(dock) == 0 and not any((tmp_path / "d" / "objects").rglob("*.zip"))
    assert not (tmp_path / "d" / "pave_index").exists()
