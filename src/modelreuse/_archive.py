"""Reading and writing learnware packages (zips and directories) as hostile data, within limits.

A package comes from someone else, so nothing here trusts what it declares:

* **Names.** Every zip entry and every file of a directory package must be a normalised relative
  POSIX path: not empty, no ``.``/``..``/empty parts, no leading ``/``, no ``\\``, ``:``, NUL or
  other control/formatting characters, at most ``max_part_bytes`` UTF-8 bytes per part and
  ``max_name_bytes`` in all. Names must be unique, and no name may be both a file and a folder
  (a reviewer unzipping the package and modelreuse must see the same files).
* **Kinds.** Only regular files and folders: zip entries that are links, devices or FIFOs,
  encrypted entries and compression methods other than stored/deflated are refused; directory
  packages may not contain links (to files or folders) or special files anywhere, and links are
  never followed.
* **Sizes.** At most ``max_entries`` entries and ``max_total_bytes`` unpacked bytes per package;
  an entry over ``ratio_from_bytes`` may not unpack to more than ``max_ratio`` times its
  compressed size. Extraction counts the bytes it actually writes (never the sizes the zip
  declares) and stops at the limits; a corrupt stream or a wrong CRC is an error too.
* **Atomicity.** :func:`extract_zip` unpacks into a private folder next to the target and renames
  it into place only when everything passed, so a refused package leaves nothing behind.

Every problem raises :class:`~modelreuse.errors.UnsafeArchiveError` naming the entry and the rule.
The defaults (:data:`DEFAULT_LIMITS`) suit tabular, text and image learnwares with models of up to
2 GiB; a dock that needs other bounds passes its own :class:`PackageLimits`.
"""

from __future__ import annotations

import os
import shutil
import stat
import struct
import tempfile
import unicodedata
import zipfile
import zlib
from collections.abc import Collection, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from modelreuse.errors import UnsafeArchiveError

MiB = 1024**2
GiB = 1024**3


@dataclass(frozen=True)
class PackageLimits:
    """Bounds on one package (see the module doc).

    Attributes:
        max_entries: files plus folders.
        max_total_bytes: unpacked bytes of all files together.
        max_ratio: largest unpacked/compressed ratio of an entry above ``ratio_from_bytes``.
        ratio_from_bytes: entries up to this many unpacked bytes may compress better.
        max_part_bytes: UTF-8 bytes of one path component.
        max_name_bytes: UTF-8 bytes of a whole entry name.
    """

    max_entries: int = 1_000
    max_total_bytes: int = 2 * GiB
    max_ratio: float = 200.0
    ratio_from_bytes: int = 1 * MiB
    max_part_bytes: int = 255
    max_name_bytes: int = 1_024


DEFAULT_LIMITS = PackageLimits()
COMPRESSION_METHODS = {zipfile.ZIP_STORED: "stored", zipfile.ZIP_DEFLATED: "deflated"}
#: Unicode categories refused in names and manifest text: control, format (bidi overrides,
#: zero-width), surrogate, line and paragraph separators.
CONTROL_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Zl", "Zp"})
ZIP_DATE = (1980, 1, 1, 0, 0, 0)
_CHUNK = 1 << 20
_CENTRAL_BYTES_PER_ENTRY = 4_096  # generous: 46-byte header + name + extra fields
_READ_ERRORS = (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, EOFError, ValueError, RuntimeError,
                NotImplementedError, zlib.error, struct.error, OverflowError, KeyError, IndexError)


def find_control_character(text: str, allowed: str = "") -> str | None:
    """The first character of ``text`` in :data:`CONTROL_CATEGORIES` and not in ``allowed``, or None."""
    if text.isprintable():  # fast path in C; isprintable is False for a superset of the refused set
        return None
    return next((c for c in text if c not in allowed and unicodedata.category(c) in CONTROL_CATEGORIES), None)


def check_entry_name(name: str, limits: PackageLimits = DEFAULT_LIMITS) -> tuple[str, bool]:
    """Validate one entry name; return it without a trailing ``/`` and whether it names a folder."""
    is_dir = name.endswith("/")
    core = name[:-1] if is_dir else name
    shown = ascii(name[:80])
    if not core:
        raise UnsafeArchiveError(f"entry name {shown} is empty; every file needs a relative path")
    if core.startswith("/") or ".." in core.split("/"):
        raise UnsafeArchiveError(f"entry {shown} escapes the package root; use relative paths inside it")
    bad = find_control_character(name)
    if bad is not None or "\\" in name or ":" in name:
        char = bad if bad is not None else ("\\" if "\\" in name else ":")
        raise UnsafeArchiveError(f"entry {shown} contains {ascii(char)}; names may not contain control "
                                 "characters, backslashes or colons (drive letters, streams)")
    parts = core.split("/")
    if any(p in ("", ".") for p in parts):
        raise UnsafeArchiveError(f"entry {shown} is not a normalised path (empty or '.' parts); "
                                 "write names like 'specs/rkme.npz'")
    if len(core.encode()) > limits.max_name_bytes or any(len(p.encode()) > limits.max_part_bytes for p in parts):
        raise UnsafeArchiveError(f"entry {shown} is too long (limits: {limits.max_part_bytes} bytes per part, "
                                 f"{limits.max_name_bytes} in all)")
    return core, is_dir


# ---------------------------------------------------------------------------- reading zips
def check_zip(zf: zipfile.ZipFile, limits: PackageLimits = DEFAULT_LIMITS) -> list[tuple[zipfile.ZipInfo, str, bool]]:
    """Check every entry of an open zip against the rules; return ``(info, name, is_dir)`` in order."""
    infos = zf.infolist()
    if len(infos) > limits.max_entries:
        raise UnsafeArchiveError(f"zip has {len(infos)} entries; the limit is {limits.max_entries}")
    for info in infos:  # zipfile cuts names at NUL; an unzip tool might show another file
        if "\x00" in info.orig_filename:
            raise UnsafeArchiveError(f"zip entry {ascii(info.orig_filename[:80])} contains a NUL character")
    entries = [(info, *check_entry_name(info.filename, limits)) for info in infos]
    for info, name, is_dir in entries:
        _check_entry_kind(info, name, is_dir, limits)
    _check_unique(entries)
    declared = sum(info.file_size for info, _, _ in entries)
    if declared > limits.max_total_bytes:
        raise UnsafeArchiveError(f"zip declares {declared} unpacked bytes; the limit is {limits.max_total_bytes}")
    return entries


def _check_entry_kind(info: zipfile.ZipInfo, name: str, is_dir: bool, limits: PackageLimits) -> None:
    kind = stat.S_IFMT(info.external_attr >> 16)
    if kind == stat.S_IFLNK:
        raise UnsafeArchiveError(f"zip entry {name!r} is a symbolic link; packages hold regular files only")
    if kind not in (0, stat.S_IFREG, stat.S_IFDIR) or (kind == stat.S_IFDIR and not is_dir):
        raise UnsafeArchiveError(f"zip entry {name!r} is a special file (mode {oct(kind)}); "
                                 "packages hold regular files only")
    if info.flag_bits & 0x1:
        raise UnsafeArchiveError(f"zip entry {name!r} is encrypted; packages must not be encrypted")
    if info.compress_type not in COMPRESSION_METHODS:
        raise UnsafeArchiveError(f"zip entry {name!r} uses compression method {info.compress_type}; "
                                 f"use {' or '.join(COMPRESSION_METHODS.values())}")
    if info.file_size > limits.ratio_from_bytes and info.file_size > limits.max_ratio * max(info.compress_size, 1):
        raise UnsafeArchiveError(f"zip entry {name!r} unpacks {info.file_size} bytes from {info.compress_size} "
                                 f"(more than {limits.max_ratio:g}:1); is it a zip bomb?")


def _check_unique(entries: list[tuple[zipfile.ZipInfo, str, bool]]) -> None:
    """Refuse repeated names and names that are both a file and a folder."""
    files: set[str] = set()
    folders: set[str] = set()
    for _, name, is_dir in entries:
        if name in files or (is_dir and name in folders) or (not is_dir and name in folders):
            raise UnsafeArchiveError(f"zip entry {name!r} appears more than once (or as both a file and a "
                                     "folder); a reviewer and modelreuse could see different files")
        (folders if is_dir else files).add(name)
    parents = {"/".join(name.split("/")[:i]) for name in files | folders for i in range(1, name.count("/") + 1)}
    clash = sorted(files & parents)
    if clash:
        raise UnsafeArchiveError(f"zip entry {clash[0]!r} is both a file and a folder")


def open_zip(zip_path: str | Path, limits: PackageLimits = DEFAULT_LIMITS) -> zipfile.ZipFile:
    """Open a zip after bounding its central directory (so a huge one is never parsed)."""
    zip_path = Path(zip_path)
    try:
        with open(zip_path, "rb") as f:
            end = zipfile._EndRecData(f)
        if end is None:
            raise zipfile.BadZipFile("no end-of-central-directory record")
        if end[zipfile._ECD_ENTRIES_TOTAL] > limits.max_entries:
            raise UnsafeArchiveError(f"zip declares {end[zipfile._ECD_ENTRIES_TOTAL]} entries; "
                                     f"the limit is {limits.max_entries}")
        if end[zipfile._ECD_SIZE] > limits.max_entries * _CENTRAL_BYTES_PER_ENTRY:
            raise UnsafeArchiveError(f"zip central directory is {end[zipfile._ECD_SIZE]} bytes; "
                                     f"too large for {limits.max_entries} entries")
        return zipfile.ZipFile(zip_path)
    except UnsafeArchiveError:
        raise
    except _READ_ERRORS as exc:
        raise UnsafeArchiveError(f"{zip_path.name} is not a readable zip ({type(exc).__name__}: {exc}); "
                                 "rebuild it with Learnware.to_zip") from None


def extract_zip(zip_path: str | Path, target: str | Path, limits: PackageLimits = DEFAULT_LIMITS) -> Path:
    """Check and extract ``zip_path`` into ``target`` (new, or an empty folder); return ``target``.

    All-or-nothing: on any problem :class:`UnsafeArchiveError` is raised and ``target`` is left as
    it was.
    """
    target = Path(target)
    if target.is_symlink() or (target.exists() and (not target.is_dir() or any(target.iterdir()))):
        raise UnsafeArchiveError(f"cannot extract into {target}: it exists and is not an empty folder; "
                                 "choose a new folder")
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = Path(tempfile.mkdtemp(prefix=f".{target.name}.partial-", dir=target.parent))
    try:
        with open_zip(zip_path, limits) as zf:
            _extract_entries(zf, check_zip(zf, limits), partial, limits)
        partial.chmod(0o755)
        if target.exists():
            target.rmdir()
        partial.rename(target)
    except BaseException:
        shutil.rmtree(partial, ignore_errors=True)
        raise
    return target


def _extract_entries(zf: zipfile.ZipFile, entries: list[tuple[zipfile.ZipInfo, str, bool]], root: Path,
                     limits: PackageLimits) -> None:
    budget = limits.max_total_bytes
    for info, name, is_dir in entries:
        dest = root.joinpath(*name.split("/"))
        if is_dir:
            dest.mkdir(parents=True, exist_ok=True)
            continue
        dest.parent.mkdir(parents=True, exist_ok=True)
        cap = max(limits.ratio_from_bytes, int(limits.max_ratio * max(info.compress_size, 1)))
        fd = os.open(dest, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o644)
        with os.fdopen(fd, "wb") as out:
            written = 0
            for chunk in _read_entry(zf, info, name):
                written += len(chunk)
                if written > budget:
                    raise UnsafeArchiveError(f"package unpacks to more than {limits.max_total_bytes} bytes "
                                             f"(stopped in {name!r}); the limit is {limits.max_total_bytes}")
                if written > cap:
                    raise UnsafeArchiveError(f"zip entry {name!r} unpacks to more than {cap} bytes from "
                                             f"{info.compress_size} (over {limits.max_ratio:g}:1); is it a zip bomb?")
                out.write(chunk)
        budget -= written


def _read_entry(zf: zipfile.ZipFile, info: zipfile.ZipInfo, name: str) -> Iterator[bytes]:
    """The entry's bytes in chunks; a corrupt stream, a wrong CRC or a bad header raises typed."""
    try:
        with zf.open(info) as src:
            while chunk := src.read(_CHUNK):
                yield chunk
    except _READ_ERRORS as exc:
        raise UnsafeArchiveError(f"zip entry {name!r} is corrupt ({type(exc).__name__}: {exc}); "
                                 "rebuild the package") from None


# ---------------------------------------------------------------------------- directory packages
def scan_directory(root: str | Path, limits: PackageLimits = DEFAULT_LIMITS) -> list[tuple[str, Path]]:
    """The regular files of a directory package as sorted ``(relative POSIX name, path)`` pairs.

    Links (to files or folders) and special files anywhere are refused, never followed; names
    and the entry count and total size obey ``limits``.
    """
    root = Path(root)
    files: list[tuple[str, Path]] = []
    count, total, stack = 0, 0, [(root, "")]
    while stack:
        folder, prefix = stack.pop()
        with os.scandir(folder) as it:
            for entry in it:
                rel = prefix + entry.name
                count += 1
                if count > limits.max_entries:
                    raise UnsafeArchiveError(f"{root} holds more than {limits.max_entries} files and folders")
                check_entry_name(rel, limits)
                if entry.is_symlink():
                    raise UnsafeArchiveError(f"{rel!r} in {root} is a symbolic link; packages may not contain "
                                             "links (copy the file into the package instead)")
                if entry.is_dir(follow_symlinks=False):
                    stack.append((Path(entry.path), rel + "/"))
                    continue
                if not entry.is_file(follow_symlinks=False):
                    raise UnsafeArchiveError(f"{rel!r} in {root} is a special file; packages hold regular files only")
                total += entry.stat(follow_symlinks=False).st_size
                if total > limits.max_total_bytes:
                    raise UnsafeArchiveError(f"{root} holds more than {limits.max_total_bytes} bytes")
                files.append((rel, Path(entry.path)))
    return sorted(files)


def write_zip(root: str | Path, dest: str | Path, limits: PackageLimits = DEFAULT_LIMITS,
              only: Collection[str] | None = None) -> Path:
    """Zip a directory package deterministically: sorted entries, fixed dates and modes, so equal
    content gives byte-identical zips. Links are refused and never followed (see :func:`scan_directory`).
    With ``only``, just the files of those names are written (each must exist)."""
    dest = Path(dest)
    files = scan_directory(root, limits)
    if only is not None:
        missing = sorted(set(only) - {name for name, _ in files})
        if missing:
            raise UnsafeArchiveError(f"{root} lacks the file(s) {missing}")
        files = [(name, path) for name, path in files if name in only]
    with zipfile.ZipFile(dest, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for name, path in files:
            fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW)  # a link swapped in after the scan fails here
            with os.fdopen(fd, "rb") as src:
                _add_file(zf, name, src)
    return dest


def _add_file(zf: zipfile.ZipFile, name: str, src: IO[bytes]) -> None:
    st = os.fstat(src.fileno())
    if not stat.S_ISREG(st.st_mode):
        raise UnsafeArchiveError(f"{name!r} is not a regular file")
    info = zipfile.ZipInfo(name, date_time=ZIP_DATE)
    info.external_attr = 0o644 << 16
    info.compress_type = zipfile.ZIP_DEFLATED
    info.file_size = st.st_size  # decides zip64 exactly as ZipFile.writestr would
    left = st.st_size
    with zf.open(info, "w") as out:
        while left > 0 and (chunk := src.read(min(_CHUNK, left))):
            out.write(chunk)
            left -= len(chunk)
