"""The dock's PAVE side: the shared base adapter it publishes per modality, the check of a
submitted package's PAVE spec, and the persisted index of its learnwares' PAVE model vectors.

Base adapters (:func:`published_base`). PAVE vectors are comparable only when every party trains
``B`` on the same frozen ``A`` (:mod:`modelreuse.specs.pave_base`), so a dock publishes one base
per modality, ``<root>/pave/<modality>/`` (``adapter_config.json`` + ``adapter_model.safetensors``,
peft's format, nothing executable). It is made on first use as ``PAVEBase.create(modality)``
(rank 16, seed 0), under the dock lock, written into a temporary sibling and renamed into place:
concurrent first uses create it once, and no reader sees half a base. ``PAVEBase.create`` draws
``A`` with a seeded NumPy generator, so those are the same bytes (and id) in every dock and
process: a developer who fitted on ``PAVEBase.create(modality)`` before the dock existed is on the
dock's base. Damaged files (:meth:`PAVEBase.load` raises :class:`SpecError`) are rebuilt the same
way and replace the damaged folder atomically, with a :class:`BaseRebuiltWarning`; should the
rebuilt base differ from the one the dock's learnwares were fitted on (``PAVEBase.create``'s
defaults changed since), :class:`SpecError` asks for the old files instead and nothing changes.

Submit check (:func:`check_package`): a package's PAVE spec must be a model vector on the dock's
base of the package's modality (the card's ``modality`` names the spec's), so every learnware of
one modality is comparable with a user's task vector on that base; anything else is a
:class:`SpecError` before the package is stored. NaN/inf, zero-norm or malformed vectors are
already refused when the package's specs are read (:meth:`PAVESpec.load`).

Index (:class:`PAVEDockIndex`): one :class:`~modelreuse.selection.methods.parameter.PAVEIndex`
per modality under ``<root>/pave_index``, with the files, revisions, incremental updates and
rebuilds of every persisted index (:mod:`modelreuse.dock._index_files`). A modality's folder holds
``ids.npy`` (unicode), ``vectors.npy`` (float32 unit vectors, ``n x length``) and ``sketches.npy``
(float32, ``n x dim``); its manifest entry gives ``n``, ``length``, ``dim`` and the ``base_id``.
Besides the shared checks, a base id that is not 64 hex digits, a ``dim`` other than the sketch
size for ``length`` or non-finite sketches make that modality be rebuilt from the store.
"""

from __future__ import annotations

import re
import shutil
import tempfile
import warnings
from collections.abc import Callable
from pathlib import Path

import numpy as np

from modelreuse.dock._index_files import PersistedIndexes, load_arrays, save_arrays
from modelreuse.dock.locking import DockLock
from modelreuse.errors import SpecError
from modelreuse.learnware import Learnware
from modelreuse.selection.methods.parameter import SKETCH_DIM, PAVEIndex
from modelreuse.specs.pave import PAVESpec
from modelreuse.specs.pave_base import PAVEBase

BASE_DIR = "pave"
MODALITIES = ("text", "image")
_HEX64 = re.compile(r"[0-9a-f]{64}")


class BaseRebuiltWarning(UserWarning):
    """The dock's PAVE base adapter was damaged and has been rebuilt from its seed (same id)."""


# ---------------------------------------------------------------------- the shared base
def published_base(root: Path, lock: DockLock, modality: str,
                   fitted_on: Callable[[], str | None] = lambda: None) -> PAVEBase:
    """The dock's base adapter for ``modality`` (module doc), made on first use.

    ``fitted_on()`` -> the base id the dock's learnwares of ``modality`` were fitted on (None
    when it has none); asked only when damaged files are rebuilt.
    """
    if modality not in MODALITIES:
        raise SpecError(f"PAVE bases exist for modalities {list(MODALITIES)}, not {modality!r}")
    folder = Path(root) / BASE_DIR / modality
    try:
        return PAVEBase.load(folder)
    except SpecError:
        pass
    with lock:
        damage = _damage(folder)
        if damage is None:
            return PAVEBase.load(folder)  # another process made it meanwhile
        base = PAVEBase.create(modality)
        if damage != "missing":
            expected = fitted_on()
            if expected is not None and expected != base.id:
                raise SpecError(f"the dock's {modality} PAVE base adapter at {folder} is damaged ({damage}), and "
                                f"rebuilding it gives base {base.id[:12]}, not {expected[:12]} that its learnwares "
                                "were fitted on; restore the folder from a backup")
            warnings.warn(f"the dock's {modality} PAVE base adapter was damaged ({damage}); rebuilt it from its "
                          f"seed (id {base.id[:12]}, unchanged)", BaseRebuiltWarning, stacklevel=3)
        _put(base, folder)
        return base


def _damage(folder: Path) -> str | None:
    """What is wrong with the base in ``folder`` ("missing" when there is none), or None."""
    if not folder.exists():
        return "missing"
    try:
        PAVEBase.load(folder)
    except SpecError as exc:
        return str(exc)[:200]
    return None


def _put(base: PAVEBase, folder: Path) -> None:
    """Write ``base`` beside ``folder`` and rename it into place (a damaged folder is moved
    aside first and deleted after); call under the dock lock."""
    folder.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{folder.name}-", dir=folder.parent))
    try:
        base.save(staging / "base")
        if folder.exists():
            folder.rename(staging / "damaged")
        (staging / "base").rename(folder)
    finally:
        shutil.rmtree(staging, ignore_errors=True)


# ---------------------------------------------------------------------- the submit check
def check_package(lw: Learnware, base_of: Callable[[str], PAVEBase]) -> None:
    """:class:`SpecError` unless ``lw``'s PAVE spec (if any) is a model vector on the dock's base
    of its modality (module doc)."""
    if "pave" not in lw.spec_kinds:
        return
    spec: PAVESpec = lw.spec("pave")  # type: ignore[assignment]
    modality = lw.manifest.modality
    if spec.modality != modality:
        raise SpecError(f"the package's PAVE spec is on a {spec.modality} base but its card says modality "
                        f"{modality!r}; build the learnware with modality={spec.modality!r}")
    if spec.role != "model":
        raise SpecError("a learnware's PAVE spec must be a model vector (PAVESpec.fit_model), not a task vector")
    spec.check_base(base_of(modality))


# ---------------------------------------------------------------------- the index
#: array name -> (dtype, shape in terms of the entry's sizes)
ARRAYS = {"ids": ("U", ("n",)), "vectors": ("f4", ("n", "length")), "sketches": ("f4", ("n", "dim"))}


class PAVEDockIndex(PersistedIndexes[PAVEIndex]):
    """The persisted PAVE index of one dock, one per modality (module doc).

    Args:
        root: the dock's folder (the index lives in ``root/pave_index``).
        lock: the dock's lock.
        members: ``members()`` -> ``(revision, {modality: ids})`` of the learnwares with a PAVE
            spec, in dock order.
        load_specs: ``load_specs(ids)`` -> their PAVE specs.
    """

    FOLDER = "pave_index"
    FORMAT = 1
    SECTION = "modalities"
    SIZES = ("n", "length", "dim")

    def build(self, ids: list[str], specs: list[PAVESpec]) -> PAVEIndex:
        return PAVEIndex.build(ids, specs)

    def save(self, target: Path, index: PAVEIndex) -> dict:
        save_arrays(target, {"ids": np.array(index.ids, dtype=str), "vectors": index.vectors,
                             "sketches": index.sketches}, ARRAYS)
        return {"n": len(index), "length": index.length, "dim": int(index.sketches.shape[1]),
                "base_id": index.base_id}

    def load(self, target: Path, entry: dict) -> PAVEIndex | None:
        base_id = entry.get("base_id")
        if not isinstance(base_id, str) or not _HEX64.fullmatch(base_id) or \
                entry["dim"] != min(entry["length"], SKETCH_DIM):
            return None
        arrays = load_arrays(target, ARRAYS, entry)
        if arrays is None or not np.isfinite(arrays["sketches"]).all():
            return None
        return PAVEIndex([str(i) for i in arrays["ids"]], base_id, arrays["vectors"], arrays["sketches"])
