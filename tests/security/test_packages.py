"""Hostile packages: zips and folders that lie about their names, kinds and sizes, and manifests
with oversized or control-character fields (issue 13, items 7, 8, 13-16).

Each case is built here from the real ``valid_package`` and must be refused with a typed error
by ``Learnware.open``, by ``Dock.submit`` (dock and temporary directory unchanged) and, for a
few, by ``modelreuse dock submit`` (``error: <Type>:``, exit code 2).
"""

from __future__ import annotations

import gc
import json
import os
import struct
import warnings
import zipfile
import zlib
from collections.abc import Callable
from pathlib import Path

import pytest

from modelreuse._archive import PackageLimits
from modelreuse.dock import Dock
from modelreuse.errors import ManifestError, ModelReuseError, UnsafeArchiveError
from modelreuse.learnware import Learnware
from tests.security.conftest import assert_cli_rejects, cli, copy_package, dock_state, rewrite_manifest, temp_entries

pytestmark = pytest.mark.usefixtures("private_tempdir")

SECRET = b"operator-secret-4f9c2a"


# ---------------------------------------------------------------------------- builders
def zip_with(package: Path, dest: Path, extra: list[tuple[str | zipfile.ZipInfo, bytes]] = (),
             skip: tuple[str, ...] = ()) -> Path:
    """The package's files as a zip, plus ``extra`` entries written as given."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # zipfile warns about the duplicate names we write on purpose
        with zipfile.ZipFile(dest, "w", compression=zipfile.ZIP_DEFLATED) as zf:
            for path in sorted(package.rglob("*")):
                name = path.relative_to(package).as_posix()
                if path.is_file() and name not in skip:
                    zf.writestr(name, path.read_bytes())
            for entry, data in extra:
                zf.writestr(entry, data)
    return dest


def raw_zip(dest: Path, package: Path, extra: list[tuple[bytes, bytes]], flags: int = 0) -> Path:
    """The package plus ``extra`` (with general-purpose ``flags``) as a stored zip written byte by
    byte, so that what zipfile itself refuses to write (empty or NUL names, the encryption flag)
    can be tested."""
    entries = [(p.relative_to(package).as_posix().encode(), p.read_bytes(), 0)
               for p in sorted(package.rglob("*")) if p.is_file()] + [(n, d, flags) for n, d in extra]
    body, central = b"", b""
    for name, data, flag in entries:
        crc = zlib.crc32(data)
        header = struct.pack("<4s5H3L2H", b"PK\x03\x04", 20, flag, 0, 0, 33, crc, len(data), len(data), len(name), 0)
        central += struct.pack("<4s6H3L5H2L", b"PK\x01\x02", 20, 20, flag, 0, 0, 33, crc, len(data), len(data),
                               len(name), 0, 0, 0, 0, 0o644 << 16, len(body)) + name
        body += header + name + data
    end = struct.pack("<4s4H2LH", b"PK\x05\x06", 0, 0, len(entries), len(entries), len(central), len(body), 0)
    dest.write_bytes(body + central + end)
    return dest


def info(name: str, mode: int = 0o100644, method: int = zipfile.ZIP_DEFLATED) -> zipfile.ZipInfo:
    entry = zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0))
    entry.external_attr, entry.compress_type = mode << 16, method
    return entry


def bomb(dest: Path, package: Path, unpacked_mib: int = 64) -> Path:
    """The package plus ``unpacked_mib`` MiB of zeros deflated to about a thousandth of that."""
    zip_with(package, dest)
    with zipfile.ZipFile(dest, "a") as zf, zf.open(info("specs/padding.bin"), "w", force_zip64=True) as out:
        for _ in range(unpacked_mib):
            out.write(bytes(1 << 20))
    return dest


def lying_crc(dest: Path, package: Path) -> Path:
    """A stored entry whose bytes were changed after its CRC was written."""
    zip_with(package, dest, [(info("specs/notes.txt", method=zipfile.ZIP_STORED), b"A" * 100)])
    dest.write_bytes(dest.read_bytes().replace(b"A" * 100, b"B" * 100))
    return dest


ZIP_ATTACKS: dict[str, tuple[Callable[[Path, Path], Path], str]] = {
    "duplicate manifest": (lambda d, p: zip_with(p, d, [("manifest.json", b'{"name": "other"}')]), "more than once"),
    "duplicate model": (lambda d, p: zip_with(p, d, [("model.skops", b"second copy")]), "more than once"),
    "file and folder": (lambda d, p: zip_with(p, d, [("notes", b"x"), ("notes/", b"")]), "more than once"),
    "file under a file": (lambda d, p: zip_with(p, d, [("notes", b"x"), ("notes/a", b"x")]), "file and a folder"),
    "empty name": (lambda d, p: raw_zip(d, p, [(b"", b"x")]), "empty"),
    "NUL in name": (lambda d, p: raw_zip(d, p, [(b"a\x00b", b"x")]), "contains"),
    "dot name": (lambda d, p: zip_with(p, d, [(".", b"x")]), "normalised"),
    "dot part": (lambda d, p: zip_with(p, d, [("./manifest.json", b"{}")]), "normalised"),
    "double slash": (lambda d, p: zip_with(p, d, [("specs//x", b"x")]), "normalised"),
    "long part": (lambda d, p: zip_with(p, d, [("x" * 300, b"x")]), "too long"),
    "long name": (lambda d, p: zip_with(p, d, [("/".join(["y" * 200] * 6), b"x")]), "too long"),
    "backslash": (lambda d, p: zip_with(p, d, [("specs\\..\\..\\evil", b"x")]), "contains"),
    "drive": (lambda d, p: zip_with(p, d, [("C:/evil", b"x")]), "contains"),
    "absolute": (lambda d, p: zip_with(p, d, [("/tmp/evil", b"x")]), "escapes"),
    "escape": (lambda d, p: zip_with(p, d, [("specs/../../evil", b"x")]), "escapes"),
    "terminal escape": (lambda d, p: zip_with(p, d, [("\x1b[31mred", b"x")]), "contains"),
    "symlink": (lambda d, p: zip_with(p, d, [(info("leak", mode=0o120777), b"/etc/passwd")]), "symbolic link"),
    "fifo": (lambda d, p: zip_with(p, d, [(info("pipe", mode=0o010644), b"")]), "special file"),
    "encrypted": (lambda d, p: raw_zip(d, p, [(b"specs/x", b"x")], flags=0x1), "encrypted"),
    "bzip2": (lambda d, p: zip_with(p, d, [(info("specs/x", method=zipfile.ZIP_BZIP2), b"x")]), "compression"),
    "lzma": (lambda d, p: zip_with(p, d, [(info("specs/x", method=zipfile.ZIP_LZMA), b"x")]), "compression"),
    "1001 entries": (lambda d, p: zip_with(p, d, [(f"specs/f{i}", b"") for i in range(1001)]), "entries"),
    "zip bomb": (lambda d, p: bomb(d, p), "zip bomb"),
    "lying CRC": (lying_crc, "corrupt"),
    "not a zip": (lambda d, p: d.write_bytes(b"PK\x03\x04 truncated") and d, "not a readable zip"),
    "truncated": (lambda d, p: d.write_bytes(zip_with(p, d).read_bytes()[:-30]) and d, "not a readable zip"),
}


@pytest.fixture
def dock(tmp_path) -> Dock:
    return Dock(tmp_path / "dock")


def assert_submit_refused(dock: Dock, package: Path, error: type[ModelReuseError], match: str) -> None:
    """``Dock.submit`` raises ``error`` and changes neither the dock nor the temporary directory."""
    before, temps = dock_state(dock), temp_entries()
    with pytest.raises(error, match=match):
        dock.submit(package)
    assert dock_state(dock) == before
    assert temp_entries() == temps


# ---------------------------------------------------------------------------- zips
@pytest.mark.parametrize("attack", sorted(ZIP_ATTACKS))
def test_hostile_zip_is_refused_and_nothing_is_extracted(attack, valid_package, dock, tmp_path, canary):
    build, match = ZIP_ATTACKS[attack]
    package = build(tmp_path / "hostile.zip", valid_package)
    temps = temp_entries()
    with pytest.raises(UnsafeArchiveError, match=match):
        Learnware.open(package)
    with pytest.raises(UnsafeArchiveError, match=match):
        Learnware.open(package, extract_to=tmp_path / "out")
    assert not (tmp_path / "out").exists()
    assert temp_entries() == temps
    assert_submit_refused(dock, package, UnsafeArchiveError, match)


def test_total_unpacked_bytes_are_bounded(valid_package, tmp_path):
    package = zip_with(valid_package, tmp_path / "big.zip", [(f"specs/r{i}", os.urandom(2 << 20)) for i in range(3)])
    with pytest.raises(UnsafeArchiveError, match="unpacked bytes"):
        Learnware.open(package, limits=PackageLimits(max_total_bytes=5 << 20))
    with Learnware.open(package, limits=PackageLimits(max_total_bytes=8 << 20)) as lw:
        assert (lw.root / "specs" / "r2").stat().st_size == 2 << 20


def test_case_only_differences_are_distinct_files(valid_package, tmp_path):
    package = zip_with(valid_package, tmp_path / "case.zip", [("specs/Notes", b"a"), ("specs/notes", b"b")])
    with Learnware.open(package) as lw:
        assert (lw.root / "specs" / "Notes").read_bytes() == b"a"


@pytest.mark.parametrize("attack", ["duplicate manifest", "symlink", "zip bomb", "lying CRC"])
def test_cli_refuses_hostile_zip(attack, valid_package, dock, tmp_path):
    build, _ = ZIP_ATTACKS[attack]
    package = build(tmp_path / "hostile.zip", valid_package)
    before, temps = dock_state(dock), temp_entries()
    assert_cli_rejects(cli("dock", "submit", package, "--dock", dock.root), "UnsafeArchiveError")
    assert dock_state(dock) == before and temp_entries() == temps


# ---------------------------------------------------------------------------- temporary folders
def test_open_zip_owns_its_temporary_folder(valid_package, tmp_path):
    package = Learnware.open(valid_package).to_zip(tmp_path / "ok.zip")
    temps = temp_entries()
    with Learnware.open(package) as lw:
        root = lw.root
        assert lw.rkme.n_features == lw.manifest.input_schema.n_features
    assert not root.exists() and temp_entries() == temps
    lw = Learnware.open(package)
    root = lw.root
    del lw
    gc.collect()
    assert not root.exists() and temp_entries() == temps


def test_open_zip_with_rejected_manifest_leaves_nothing(valid_package, tmp_path):
    rewrite_manifest(valid_package, owner="x" * 10_000)
    package = zip_with(valid_package, tmp_path / "bad.zip")
    temps = temp_entries()
    with pytest.raises(ManifestError, match="owner"):
        Learnware.open(package)
    with pytest.raises(ManifestError, match="owner"):
        Learnware.open(package, extract_to=tmp_path / "out")
    assert temp_entries() == temps and not (tmp_path / "out").exists()


# ---------------------------------------------------------------------------- directories
def _secret(tmp_path: Path) -> Path:
    folder = tmp_path / "outside"
    folder.mkdir()
    (folder / "secret.txt").write_bytes(SECRET)
    return folder


def _grep_dock(dock: Dock) -> list[str]:
    return [p.name for p in dock.root.rglob("*") if p.is_file() and SECRET in p.read_bytes()]


@pytest.mark.parametrize("link", ["leak.txt", "specs/leak.txt", "secrets"])
def test_directory_with_symlink_is_refused_and_secret_not_copied(link, valid_package, dock, tmp_path, canary):
    secret = _secret(tmp_path)
    target = secret if link == "secrets" else secret / "secret.txt"
    (valid_package / link).symlink_to(target, target_is_directory=target.is_dir())
    with pytest.raises(UnsafeArchiveError, match="symbolic link"):
        Learnware.open(valid_package)
    with pytest.raises(UnsafeArchiveError, match="symbolic link"):
        Learnware(_manifest_of(valid_package), valid_package).to_zip(tmp_path / "x.zip")  # not via open
    assert_submit_refused(dock, valid_package, UnsafeArchiveError, "symbolic link")
    assert_cli_rejects(cli("dock", "submit", valid_package, "--dock", dock.root), "UnsafeArchiveError")
    assert _grep_dock(dock) == []


def _manifest_of(package: Path):
    from modelreuse.learnware import Manifest

    return Manifest.parse(json.loads((package / "manifest.json").read_text()))


def test_manifest_symlink_is_refused(valid_package, tmp_path, dock):
    real = tmp_path / "elsewhere.json"
    (valid_package / "manifest.json").rename(real)
    (valid_package / "manifest.json").symlink_to(real)
    assert_submit_refused(dock, valid_package, UnsafeArchiveError, "symbolic link")


def test_special_file_and_too_many_files_are_refused(valid_package, tmp_path, dock):
    fifo = copy_package(valid_package, tmp_path / "fifo")
    os.mkfifo(fifo / "pipe")
    assert_submit_refused(dock, fifo, UnsafeArchiveError, "special file")
    for i in range(1001):
        (valid_package / "specs" / f"f{i}").touch()
    assert_submit_refused(dock, valid_package, UnsafeArchiveError, "more than 1000")


# ---------------------------------------------------------------------------- manifests
MANIFEST_ATTACKS: dict[str, tuple[dict, str]] = {
    "2 MB manifest": ({"description": lambda: os.urandom(1_000_000).hex()}, "limit is"),  # hex: no zip bomb
    "long description": ({"description": "x" * 20_001}, "description"),
    "10,000-char owner": ({"owner": "o" * 10_000}, "owner"),
    "long licence": ({"licence": "l" * 201}, "licence"),
    "ANSI name": ({"name": "\x1b[2J\x1b[31mpwned"}, "U\\+001B"),
    "bidi name": ({"name": "model\u202egpj.exe"}, "U\\+202E"),
    "NUL owner": ({"owner": "a\x00b"}, "U\\+0000"),
    "zero-width tag": ({"tags": ["a\u200bb"]}, "U\\+200B"),
    "escape in description": ({"description": "ok\n\tbut \x1b]8;;http://x\x07link"}, "U\\+001B"),
    "65 tags": ({"tags": [f"t{i}" for i in range(65)]}, "tags"),
    "long tag": ({"tags": ["t" * 65]}, "tags"),
    "not a list": ({"tags": "abc"}, "tags"),
    "huge version map": ({"versions": {f"k{i}": "1" for i in range(33)}}, "versions"),
    "unknown version": ({"manifest_version": 99}, "manifest_version"),
}


@pytest.mark.parametrize("attack", sorted(MANIFEST_ATTACKS))
def test_hostile_manifest_field_is_refused(attack, valid_package, dock, tmp_path):
    changes, match = MANIFEST_ATTACKS[attack]
    rewrite_manifest(valid_package, **{k: v() if callable(v) else v for k, v in changes.items()})
    with pytest.raises(ManifestError, match=match):
        Learnware.open(valid_package)
    assert_submit_refused(dock, zip_with(valid_package, tmp_path / "m.zip"), ManifestError, match)


def _edit(package: Path, edit: Callable[[dict], None]) -> None:
    manifest = json.loads((package / "manifest.json").read_text())
    edit(manifest)
    (package / "manifest.json").write_text(json.dumps(manifest))


NESTED_ATTACKS: dict[str, tuple[Callable[[dict], None], str]] = {
    "duplicate feature names": (lambda m: m["input_schema"]["feature_names"].__setitem__(1, m["input_schema"]
                                                                                         ["feature_names"][0]), "once"),
    "control char in feature name": (lambda m: m["input_schema"]["feature_names"].__setitem__(0, "a\x1bb"), "U\\+001B"),
    "n_features 10^9": (lambda m: m["input_schema"].update(n_features=10**9, feature_names=None), "n_features"),
    "architecture object kwargs": (lambda m: m["artifact"].update(architecture={"name": "mlp", "kwargs": {
        "hidden": {"__class__": "os.system"}}}), "kwargs"),
    "spec file with NUL": (lambda m: m["specs"][0].update(file="specs/rk\x00me.npz"), "under specs/"),
    "spec kind markup": (lambda m: m["specs"][0].update(kind="[red]rkme"), "kind"),
    "control char in target": (lambda m: m["output"].update(target="PM\x1b2.5"), "U\\+001B"),
    "escape in unknown key": (lambda m: m.update({"\x1b[31mx": 1}), "x1b"),
}


@pytest.mark.parametrize("attack", sorted(NESTED_ATTACKS))
def test_hostile_nested_field_is_refused(attack, valid_package, dock):
    edit, match = NESTED_ATTACKS[attack]
    _edit(valid_package, edit)
    with pytest.raises(ManifestError, match=match) as caught:
        Learnware.open(valid_package)
    assert "\x1b" not in str(caught.value)
    assert_submit_refused(dock, valid_package, ManifestError, match)


@pytest.mark.parametrize("raw, match", [
    (b"[" * 100_000, "nested deeper"),
    (b'{"name": "\xff\xfe"}', "UTF-8"),
    (b'{"name": NaN}', "NaN"),
    (b'{"name": "a", "name": "b"}', "repeated"),
    (b"[]", "dictionary"),
    (b'"manifest"', "dictionary"),
    (b'{"n": 1' + b"0" * 5000 + b"}", "JSON"),
])
def test_malformed_manifest_json_is_refused(raw, match, valid_package, dock):
    (valid_package / "manifest.json").write_bytes(raw)
    with pytest.raises(ManifestError, match=match):
        Learnware.open(valid_package)
    assert_submit_refused(dock, valid_package, ManifestError, match)


def test_cli_refuses_control_characters_in_name(valid_package, dock):
    rewrite_manifest(valid_package, name="\x1b[31mred")
    result = cli("dock", "submit", valid_package, "--dock", dock.root)
    assert_cli_rejects(result, "ManifestError")
    assert "\x1b" not in result.output


def test_plain_text_with_markup_newlines_and_unicode_is_accepted(valid_package, dock):
    """Rich markup is text to store (printing it safely is the CLI's job); newlines and tabs are fine
    in a description, and so are non-ASCII letters."""
    rewrite_manifest(valid_package, name="[bold]Wanliu[/bold] 北京", description="line one\n\tline two",
                     tags=["空气", "pm2.5"])
    learnware_id = dock.submit(valid_package)
    assert dock.card(learnware_id)["name"] == "[bold]Wanliu[/bold] 北京"
