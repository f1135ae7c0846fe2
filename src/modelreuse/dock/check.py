"""``modelreuse dock check [--repair]``: compare the dock's rows with its files.

The store's invariants (see :mod:`modelreuse.dock.dock`): every row has its object
``objects/<sha[:2]>/<sha>.zip`` whose SHA-256 is its name, and every object and unpacked folder
belongs to a row. A crash (``kill -9``, power loss) can only leave *extra* things behind: an object
or unpacked folder written before its row committed or after its row was deleted, a temporary file
of an interrupted write, a staging folder of a dead submitter, a search-index folder (or temporary
manifest) that the index manifest does not name. Those are safe to delete. A row
without its object, or with an object whose content does not match its name, means someone changed
the files by hand; repair removes such a row (it could never be loaded) and reports it.

The check holds the dock lock, so it never races a submit or a remove; staging folders of live
submitters are locked by them and left alone.
"""

from __future__ import annotations

import shutil
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from modelreuse.dock.artifacts import sha256_of
from modelreuse.dock.locking import abandoned_staging
from modelreuse.dock.store import LearnwareRecord, bump_revision

if TYPE_CHECKING:
    from modelreuse.dock.dock import Dock


@dataclass
class CheckReport:
    """What :func:`check_dock` found (paths relative to the dock root, ids of rows)."""

    rows: int = 0
    missing_objects: list[str] = field(default_factory=list)
    corrupt_objects: list[str] = field(default_factory=list)
    missing_unpacked: list[str] = field(default_factory=list)
    orphan_objects: list[str] = field(default_factory=list)
    orphan_unpacked: list[str] = field(default_factory=list)
    leftovers: list[str] = field(default_factory=list)
    abandoned_staging: list[str] = field(default_factory=list)
    orphan_index: list[str] = field(default_factory=list)
    repaired: bool = False

    @property
    def problems(self) -> int:
        """Number of things found wrong (a missing unpacked cache is not a problem: it is rebuilt)."""
        return sum(len(v) for k, v in asdict(self).items() if isinstance(v, list) and k != "missing_unpacked")

    @property
    def ok(self) -> bool:
        return self.problems == 0

    def to_dict(self) -> dict:
        return {**asdict(self), "problems": self.problems, "ok": self.ok}


def check_dock(dock: Dock, repair: bool = False) -> CheckReport:
    """Check ``dock`` (module doc); with ``repair`` delete leftovers and unloadable rows and
    re-extract missing unpacked folders."""
    store = dock.artifacts
    with dock._lock, Session(dock.engine) as session:
        rows = dict(session.execute(select(LearnwareRecord.id, LearnwareRecord.package_sha256)).all())
        objects, unpacked = store.object_hashes(), store.unpacked_ids()
        report = CheckReport(rows=len(rows))
        broken = _broken_rows(rows, objects, report)
        report.missing_unpacked = sorted(i for i in rows if i not in broken and not _complete(unpacked.get(i)))
        referenced = {sha for i, sha in rows.items() if i not in broken}
        stray_objects = [p for sha, p in objects.items() if sha not in referenced]
        stray_unpacked = [p for i, p in unpacked.items() if i not in rows or i in broken]
        leftovers, staging = store.leftovers(), abandoned_staging(dock.root)
        report.orphan_objects = _relative(dock.root, stray_objects)
        report.orphan_unpacked = _relative(dock.root, stray_unpacked)
        report.leftovers = _relative(dock.root, leftovers)
        report.abandoned_staging = _relative(dock.root, staging)
        stray_index = dock.index.unreferenced()
        report.orphan_index = _relative(dock.root, stray_index)
        if repair:
            if broken:
                session.execute(delete(LearnwareRecord).where(LearnwareRecord.id.in_(broken)))
                bump_revision(session)
                session.commit()
            for path in [*stray_objects, *stray_unpacked, *leftovers, *staging, *stray_index]:
                _remove(path)
            for learnware_id in report.missing_unpacked:
                store.unpacked(learnware_id, rows[learnware_id])
            report.repaired = True
    return report


def _broken_rows(rows: dict[str, str], objects: dict[str, Path], report: CheckReport) -> set[str]:
    """Rows whose object is missing or whose object's content is not its name."""
    for learnware_id, sha in sorted(rows.items()):
        if sha not in objects:
            report.missing_objects.append(learnware_id)
        elif sha256_of(objects[sha]) != sha:
            report.corrupt_objects.append(learnware_id)
    return {*report.missing_objects, *report.corrupt_objects}


def _complete(folder: Path | None) -> bool:
    return folder is not None and (folder / "manifest.json").is_file()


def _relative(root: Path, paths: list[Path]) -> list[str]:
    return sorted(p.relative_to(root).as_posix() for p in paths)


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    else:
        path.unlink(missing_ok=True)
