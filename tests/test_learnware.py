import json
import zipfile

import numpy as np
import pytest

from modelreuse.errors import ManifestError, UnsafeArchiveError
from modelreuse.learnware import Learnware, Manifest
from modelreuse.specs.base import spec_file
from modelreuse.specs.records import RecordsSpec
from modelreuse.specs.rkme import RKMESpec
from modelreuse.specs.semantic import SemanticSpec
from modelreuse.task import TASK_TYPES


def test_build_open_and_zip_roundtrip(site_learnwares, tmp_path):
    lw = site_learnwares["Wanliu"]
    zpath = lw.to_zip(tmp_path / "w.zip")
    again = Learnware.open(zpath, extract_to=tmp_path / "x")
    assert again.manifest == lw.manifest
    assert again.rkme.n_features == lw.manifest.input_schema.n_features
    # zips are byte-identical for the same content (content addressing relies on it)
    assert lw.to_zip(tmp_path / "w2.zip").read_bytes() == zpath.read_bytes()


def _manifest(lw) -> dict:
    return json.loads((lw.root / "manifest.json").read_text())


@pytest.mark.parametrize("mutate, message", [
    (lambda m: m.pop("name"), "name"),
    (lambda m: m.update(task_type="ranking"), "unknown task type 'ranking'; registered: classification, feature_extraction, regression"),
    (lambda m: m["output"].update(target=None), "regression learnwares must name output.target"),
    (lambda m: m["specs"][0].update(kind="fingerprint"), "unknown spec kind 'fingerprint'; registered: .*records"),
    (lambda m: m.update(specs=m["specs"] + m["specs"][:1]), "duplicate spec kinds"),
    (lambda m: m["specs"][0].update(file="../../etc/passwd"), "under specs/"),
    (lambda m: m["artifact"].update(format="exe"), "artifact.format"),
    (lambda m: m.update(unexpected=1), "unexpected"),
])
def test_malformed_manifest_is_rejected(site_learnwares, mutate, message):
    data = _manifest(site_learnwares["Wanliu"])
    mutate(data)
    with pytest.raises(ManifestError, match=message):
        Manifest.parse(data)


def test_missing_file_and_bad_json(site_learnwares, tmp_path):
    import shutil

    root = tmp_path / "lw"
    shutil.copytree(site_learnwares["Wanliu"].root, root)
    (root / "specs" / "rkme.npz").unlink()
    with pytest.raises(ManifestError, match="no such file"):
        Learnware.open(root)
    (root / "manifest.json").write_text("{not json")
    with pytest.raises(ManifestError, match="not valid JSON"):
        Learnware.open(root)


@pytest.mark.parametrize("entry", ["../evil.txt", "/abs/evil.txt", "specs/../../evil.txt"])
def test_zip_escaping_root_is_rejected_and_nothing_extracted(tmp_path, entry):
    zpath = tmp_path / "evil.zip"
    with zipfile.ZipFile(zpath, "w") as zf:
        zf.writestr("manifest.json", "{}")
        zf.writestr(entry, "x")
    out = tmp_path / "out"
    with pytest.raises(UnsafeArchiveError, match="escapes"):
        Learnware.open(zpath, extract_to=out)
    assert not out.exists() or not any(out.iterdir())


def test_zip_with_symlink_is_rejected(tmp_path):
    zpath = tmp_path / "link.zip"
    with zipfile.ZipFile(zpath, "w") as zf:
        info = zipfile.ZipInfo("model.skops")
        info.external_attr = (0o120777 << 16)
        zf.writestr(info, "/etc/passwd")
    with pytest.raises(UnsafeArchiveError, match="symbolic link"):
        Learnware.open(zpath, extract_to=tmp_path / "o")


def test_open_zip_as_context_manager_removes_its_folder(site_learnwares, tmp_path):
    zpath = site_learnwares["Wanliu"].to_zip(tmp_path / "w.zip")
    with Learnware.open(zpath) as lw:
        root = lw.root
        assert lw.rkme.n_features == lw.manifest.input_schema.n_features
    assert not root.exists()


def test_extract_to_must_be_new_or_empty(site_learnwares, tmp_path):
    zpath = site_learnwares["Wanliu"].to_zip(tmp_path / "w.zip")
    (tmp_path / "empty").mkdir()
    assert Learnware.open(zpath, extract_to=tmp_path / "empty").manifest == site_learnwares["Wanliu"].manifest
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "keep.txt").write_text("mine")
    with pytest.raises(UnsafeArchiveError, match="not an empty folder"):
        Learnware.open(zpath, extract_to=tmp_path / "full")
    assert [p.name for p in (tmp_path / "full").iterdir()] == ["keep.txt"]


def test_to_zip_streams_large_files_deterministically(site_learnwares, tmp_path):
    import shutil

    root = tmp_path / "lw"
    shutil.copytree(site_learnwares["Wanliu"].root, root)
    lw = Learnware.open(root)
    artifact = root / lw.manifest.artifact.file
    artifact.write_bytes(bytes(range(256)) * 20_000)  # 5 MB, several read chunks (to_zip does not load it)
    (root / "specs" / "notes.txt").write_text("not listed in the manifest")
    assert lw.to_zip(tmp_path / "a.zip").read_bytes() == lw.to_zip(tmp_path / "b.zip").read_bytes()
    with zipfile.ZipFile(tmp_path / "a.zip") as zf:
        assert zf.read(artifact.name) == artifact.read_bytes()
        assert zf.namelist() == sorted(zf.namelist()) == sorted(lw.files())  # unlisted files are left out


# ---------------------------------------------------------------------- pluggable learnware kinds

def _station(beijing):
    from sklearn.linear_model import Ridge

    X, y = beijing["Huairou"]["X"][:300], beijing["Huairou"]["y"][:300]
    X = np.nan_to_num(X)
    return X, Ridge().fit(X, y)


def test_a_learnware_needs_only_its_card(beijing, tmp_path):
    X, model = _station(beijing)
    lw = Learnware.build(tmp_path / "card", model, name="card only", task_type="regression", target="PM2.5",
                         n_features=X.shape[1])
    assert lw.spec_kinds == ["semantic"] and lw.manifest.input_schema.n_features == X.shape[1]
    again = Learnware.open(lw.to_zip(tmp_path / "card.zip"), extract_to=tmp_path / "x")
    again.load_specs()
    assert again.manifest == lw.manifest and again.records is None
    with pytest.raises(ManifestError, match="no 'rkme' spec"):
        again.spec("rkme")
    assert again.load_model().predict(X[:5]).shape == (5,)


def test_build_fits_the_rkme_from_rows_and_takes_any_registered_specs(beijing, tmp_path):
    X, model = _station(beijing)
    lw = Learnware.build(tmp_path / "rows", model, X=X, name="rows", task_type="regression", target="PM2.5")
    np.testing.assert_array_equal(lw.rkme.embedding(), RKMESpec.fit(X).embedding())
    rkme = RKMESpec.fit(X, m=10)
    records = RecordsSpec([{"dataset": "Huairou", "metric": "rmse", "score": float(np.std(beijing["Huairou"]["y"]))}])
    both = Learnware.build(tmp_path / "both", model, specs=[records, rkme], name="both", task_type="regression",
                           target="PM2.5")
    assert both.spec_kinds == ["records", "rkme", "semantic"]
    assert [s.file for s in both.manifest.specs] == [spec_file(k) for k in both.spec_kinds]
    np.testing.assert_array_equal(Learnware.open(both.root).rkme.Z, rkme.Z)


@pytest.mark.parametrize("arguments, message", [
    (lambda X, rkme: {"specs": [rkme, rkme]}, "two 'rkme' specs"),
    (lambda X, rkme: {"specs": [SemanticSpec(name="x")]}, "semantic spec is written from name"),
    (lambda X, rkme: {"specs": [rkme], "n_features": X.shape[1] + 1}, "input width is stated differently"),
    (lambda X, rkme: {"X": X[:, :3], "feature_names": ["a", "b"]}, "input width is stated differently"),
    (lambda X, rkme: {}, "cannot tell the model's input width"),
])
def test_build_refuses_inconsistent_specs(beijing, tmp_path, arguments, message):
    X, model = _station(beijing)
    with pytest.raises(ManifestError, match=message):
        Learnware.build(tmp_path / "bad", model, name="bad", task_type="regression", target="PM2.5",
                        **arguments(X, RKMESpec.fit(X, m=10)))


def test_task_types_are_a_registry(site_learnwares, monkeypatch):
    """A new task type is one registration of its output check; manifests naming it then validate."""
    monkeypatch.setattr(TASK_TYPES, "_entries", dict(TASK_TYPES._entries))
    data = _manifest(site_learnwares["Wanliu"])
    data["task_type"] = "segmentation"
    with pytest.raises(ManifestError, match="unknown task type 'segmentation'"):
        Manifest.parse(data)

    @TASK_TYPES.register("segmentation")
    def _embedding_output(classes, target):
        if classes is not None:
            raise ValueError("segmenters declare no output.classes")

    assert Manifest.parse(data).task_type == "segmentation"
    data["output"]["classes"] = [0, 1]
    with pytest.raises(ManifestError, match="segmenters declare no output.classes"):
        Manifest.parse(data)
