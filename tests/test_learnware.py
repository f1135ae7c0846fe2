import json
import zipfile

import pytest

from modelreuse.errors import ManifestError, UnsafeArchiveError
from modelreuse.learnware import Learnware, Manifest


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
    (lambda m: m.update(task_type="ranking"), "task_type"),
    (lambda m: m["output"].update(target=None), "regression learnwares must name output.target"),
    (lambda m: m.update(specs=[{"kind": "semantic", "file": "specs/semantic.json"}]), "rkme"),
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
