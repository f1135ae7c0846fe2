"""A zoo given as a folder of learnware packages, or a zip of them, as a private temporary dock.

The tutorial's ``Client().fit(training_data=..., model_zoo_path=...)`` takes a dock, a folder of
packages (each a package folder or zip, e.g. what ``modelreuse zoo build`` validates) or a zip of
such a folder. The packages are submitted to a new dock in a temporary folder, so each is checked
and validated in the sandbox exactly as a dock submit checks it (:meth:`Dock.submit_many`; all or
nothing); a zip is extracted with the checks of :mod:`modelreuse._archive` first. The folder is
removed when the returned dock object is garbage collected.

A zoo on a dock server (:class:`~modelreuse.dock.remote.RemoteDock`) is made local the same way
(:func:`dock_of_remote_zoo`): its feature-extraction learnwares of the rows' modality are
downloaded (each package's SHA-256 checked against its id) and validated again here, in the
sandbox, into a temporary dock; selection and probing then run on this machine, and the user's
rows never leave it.
"""

from __future__ import annotations

import shutil
import tempfile
import weakref
from pathlib import Path

from modelreuse._archive import extract_zip
from modelreuse.dock.dock import DOCK_FILE, Dock
from modelreuse.errors import EmptyDockError

__all__ = ["is_package_folder", "dock_of_packages", "dock_of_remote_zoo"]


def _packages_in(folder: Path) -> list[Path]:
    """The package folders (holding ``manifest.json``) and zips directly under ``folder``, sorted;
    ``folder`` itself when it is one package."""
    if (folder / "manifest.json").is_file():
        return [folder]
    return sorted(p for p in folder.iterdir()
                  if (p.is_dir() and (p / "manifest.json").is_file()) or (p.is_file() and p.suffix == ".zip"))


def is_package_folder(path: str | Path) -> bool:
    """Whether ``path`` is a zip file or a folder of packages rather than a dock (no ``dock.sqlite``)."""
    path = Path(path)
    if path.is_file():
        return path.suffix == ".zip"
    return path.is_dir() and not (path / DOCK_FILE).exists() and bool(_packages_in(path))


def dock_of_packages(path: str | Path, *, trust: bool = False) -> Dock:
    """A temporary dock holding every package of the folder or zip ``path`` (module doc)."""
    path = Path(path)

    def packages(work: Path) -> list[Path]:
        folder = extract_zip(path, work / "packages") if path.is_file() else path
        found = _packages_in(folder)
        if not found:
            raise EmptyDockError(f"{path} holds no learnware packages (folders with a manifest.json, or zips)")
        return found

    return _temporary_dock(packages, trust)


def dock_of_remote_zoo(remote, modality: str, *, trust: bool = False) -> Dock:
    """A temporary local dock of the feature-extraction learnwares of ``modality`` on the dock server
    ``remote`` (a :class:`~modelreuse.dock.remote.RemoteDock`; module doc). :class:`EmptyDockError`
    when it has none."""
    def packages(work: Path) -> list[Path]:
        cards = remote.list(task_type="feature_extraction", modality=modality)
        if not cards:
            raise EmptyDockError(f"the dock server {remote.url} has no {modality} feature extractor to reuse; "
                                 f"publish a zoo there (`modelreuse zoo build --preset {modality}`, then submit its "
                                 "packages) or pass a local zoo")
        return [remote.get(card["id"]).root for card in cards]

    return _temporary_dock(packages, trust)


def _temporary_dock(packages, trust: bool) -> Dock:
    """A new dock in a temporary folder holding ``packages(work_folder)``, validated; the folder is
    removed with the dock object."""
    work = Path(tempfile.mkdtemp(prefix="modelreuse-zoo-"))
    try:
        found = packages(work)
        dock = Dock(work / "dock", create=True)
        dock.submit_many(found, trust=trust)
    except BaseException:
        shutil.rmtree(work, ignore_errors=True)
        raise
    weakref.finalize(dock, shutil.rmtree, str(work), True)
    return dock
