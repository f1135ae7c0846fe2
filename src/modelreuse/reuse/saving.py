"""Saving and loading a fitted :class:`~modelreuse.reuse.reused_model.ReusedModel`, never with pickle.

A saved model is a folder holding exactly these files::

    model.json          what was chosen and how to rebuild it (:class:`SavedModel`): the reuser and
                        its parameters, the candidates of each pool (learnware id, name, reason,
                        weight), the encoder by name, the table schema, the task type, the classes,
                        the search ranking, the learnwares skipped, and the ``explain()`` text
    state.skops         the fitted state (skops): the attributes the fit set on the ReusedModel, on
                        its AutoReuser and on the chosen reuser (heads such as feature_augment's
                        regression, own_rows' forest, the job selector's index); for a model trained
                        on the user's own rows without learnwares, that fitted estimator; and the
                        search ranking (``model.json`` holds a copy for people)
    learnwares/000.zip  the package of each learnware a candidate comes from, as its canonical zip
    learnwares/001.zip  (:meth:`Learnware.to_zip`), numbered in the order of ``model.json``'s
    ...                 ``packages``

A reuser of feature-extraction learnwares (:data:`~modelreuse.reuse.base.EXTRACTOR_REUSERS`: the
linear probe of one extractor, the concatenated probe or the probe ensemble of the top-k) is saved
the same way: ``model.json``'s ``probe`` names it, its parameters and the learnware(s)
(``learnware_ids``, best first, for a reuser of several); ``state.skops`` holds its fitted heads;
``learnwares/000.zip``, ... the extractors' packages, from which the extractors are loaded again
(never from the state).

Loading trusts nothing in the folder: a file that is not one of the above (a pickle, say), a
link, a missing package, a ``model.json`` that does not match :class:`SavedModel` (unknown reuser,
wrong types) or a skops type outside :data:`STATE_TYPES` and
:data:`~modelreuse.models.skops_allowlist.SKOPS_ALLOWED` raise a typed error before anything is
built, unless ``trust=True`` is given for the skops types. Packages are reopened with
:meth:`Learnware.open` (its zip and manifest checks) and their models loaded with
``load_model(trust=trust)``. File names are fixed here; none is read from ``model.json``.

The loaded model predicts as the saved one did; ``clone`` of it refits over the same candidates.
"""

from __future__ import annotations

import json
import math
import shutil
import tempfile
import weakref
from pathlib import Path
from typing import Annotated, Any, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from sklearn.base import clone

from modelreuse._archive import DEFAULT_LIMITS, scan_directory
from modelreuse._safeio import read_json
from modelreuse.config import __version__
from modelreuse.errors import ModelLoadError, UnsupportedModelError, UntrustedArtifactError
from modelreuse.models.table_schema import TableSchema
from modelreuse.reuse.auto import AutoReuser, Candidate, build_reuser, pool_of
from modelreuse.reuse.base import EXTRACTOR_REUSERS, REUSERS
from modelreuse.reuse.reused_model import ReusedModel

FORMAT = "modelreuse.reused-model"
FORMAT_VERSION = 1
MODEL_JSON, STATE = "model.json", "state.skops"
MAX_MODEL_JSON_BYTES = 16 * 1024**2
STATE_TYPES = frozenset({
    "modelreuse.specs.rkme_index.RKMEIndex",  # the job selector's index of its candidates' RKMEs
    "sklearn.metrics._scorer._PassthroughScorer",  # a fitted GridSearchCV head's scorer
    "sklearn.model_selection._split.KFold",  # ... and its folds
    "sklearn.model_selection._split.StratifiedKFold",
    "modelreuse.selection.ranking.Ranking",  # the search ranking kept for explain()
    "modelreuse.selection.ranking.RankedLearnware",
})
"""Types the saved state holds beyond the learnware allowlist, besides the registered reuser
classes themselves (a model trained on own rows may be an ``own_rows`` reuser). Each is rebuilt by
skops from attribute values only; none runs code from the file."""

Scalar = bool | int | float | str | None
Param = Scalar | list[float]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class SavedCandidate(_Strict):
    learnware_id: Annotated[str, Field(min_length=1, max_length=256)]
    name: Annotated[str, Field(max_length=1000)]
    reason: Annotated[str, Field(max_length=10_000)] = ""
    weight: float | None = None


class SavedReuse(_Strict):
    """An AutoReuser over learnwares: its parameters, its two candidate pools, its choice."""

    params: dict[str, Param]
    mixture: Annotated[list[SavedCandidate], Field(max_length=1000)]
    ranking: Annotated[list[SavedCandidate], Field(min_length=1, max_length=1000)]
    reuser: str


class SavedProbe(_Strict):
    """A reuser of feature-extraction learnwares (:data:`~modelreuse.reuse.base.EXTRACTOR_REUSERS`):
    its registered name, its parameters but the extractor(s), and the learnware whose package holds
    the (first) extractor; ``learnware_ids`` lists every extractor's learnware, in order, for a
    reuser of several (``extractors`` parameter) and is empty for a reuser of one."""

    reuser: str
    learnware_id: Annotated[str, Field(min_length=1, max_length=256)]
    name: str
    params: dict[str, Param]
    learnware_ids: Annotated[list[Annotated[str, Field(min_length=1, max_length=256)]], Field(max_length=100)] = \
        Field(default_factory=list)


class SavedModel(_Strict):
    """The schema of ``model.json`` (module docstring). ``reuse`` is ``None`` for a model trained on
    the user's own rows only (no learnware) and for a reuser of one feature extractor, which is
    ``probe`` instead; ``classes``, ``chosen`` and ``explanation`` describe the model for people and
    are not used to rebuild it."""

    format: Literal["modelreuse.reused-model"]
    format_version: Literal[1]
    modelreuse_version: str
    task_type: Literal["classification", "regression"]
    classes: list[str] | None = None
    encoder: str | None = None
    table_schema: TableSchema | None = None
    packages: Annotated[list[Annotated[str, Field(min_length=1, max_length=256)]], Field(max_length=1000)]
    reuse: SavedReuse | None
    probe: SavedProbe | None = None
    ranking: dict[str, Any] | None = None
    skipped: list[str] = Field(default_factory=list)
    chosen: list[dict[str, Any]] = Field(default_factory=list)
    explanation: str = ""


# ---------------------------------------------------------------------------- save
def save(model: ReusedModel, directory: str | Path) -> Path:
    """Write the fitted ``model`` into ``directory`` (a new or empty folder; written in a
    temporary sibling and renamed at the end, so a failure leaves nothing) and return it.

    Raises:
        UnsupportedModelError: the model reuses models that were not loaded from a learnware
            package (no ``ModelAdapter.source``), or its state holds a type that could not be
            loaded back without trust.
    """
    from sklearn.utils.validation import check_is_fitted

    check_is_fitted(model)
    directory = check_target(directory)
    directory.parent.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=f".{directory.name}.saving-", dir=directory.parent))
    try:
        description, state, candidates = _describe(model)
        _write_packages(candidates, description["packages"], work)
        _write_state(state, work / STATE)
        (work / MODEL_JSON).write_text(json.dumps(_plain(description), indent=2, allow_nan=False))
        if directory.is_dir():
            directory.rmdir()
        work.rename(directory)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return directory


def check_target(directory: str | Path) -> Path:
    """``directory`` as a :class:`Path` if a model can be saved there (it does not exist, or is an
    empty folder), else :class:`FileExistsError` (check before a long fit)."""
    directory = Path(directory)
    if directory.is_file() or (directory.is_dir() and any(directory.iterdir())):
        raise FileExistsError(f"{directory} already exists and is not an empty folder; save into a new folder")
    return directory


def _describe(model: ReusedModel) -> tuple[dict, dict, list[Candidate]]:
    """``model.json``'s content, the skops state and the candidates whose packages are saved."""
    outer = _fitted_state(model, exclude=("estimator_",))
    description = {
        "format": FORMAT, "format_version": FORMAT_VERSION, "modelreuse_version": __version__,
        "task_type": model.task_type_,
        "classes": None if getattr(model, "classes_", None) is None else [str(c) for c in model.classes_],
        "encoder": model.encoder,
        "table_schema": None if model.schema is None else model.schema.model_dump(),
        "ranking": None if model.ranking is None else model.ranking.to_dict(),
        "skipped": list(model.skipped), "chosen": model.chosen, "explanation": model.explain(),
    }
    auto = model.estimator_
    if type(auto) in _extractor_reusers():
        return _describe_probe(description, outer, model, auto)
    if not isinstance(auto, AutoReuser):
        state = {"model": outer, "ranking": model.ranking, "estimator": auto}
        return {**description, "packages": [], "reuse": None}, state, []
    candidates = [*auto.mixture, *auto.ranking]
    params = {k: v for k, v in auto.get_params(deep=False).items() if k not in ("mixture", "ranking")}
    description["reuse"] = {"params": params, "reuser": auto.reuser_,
                            "mixture": [_candidate(c) for c in auto.mixture],
                            "ranking": [_candidate(c) for c in auto.ranking]}
    description["packages"] = list(dict.fromkeys(c.learnware_id for c in candidates))
    state = {"model": outer, "ranking": model.ranking, "auto": _fitted_state(auto, exclude=("estimator_", "chosen_")),
             "reuser": _fitted_state(auto.estimator_, exclude=("models", "specs"), params=True)}
    return description, state, candidates


def _extractor_reusers() -> dict[type, str]:
    return {EXTRACTOR_REUSERS.get(name): name for name in EXTRACTOR_REUSERS.names()}


def _describe_probe(description: dict, outer: dict, model: ReusedModel, probe: Any) -> tuple[dict, dict, list[Candidate]]:
    """A reuser of one feature extractor: its package, its parameters and its fitted state (the
    extractor itself is rebuilt from the package)."""
    candidates = probe.chosen_
    ids = [c.learnware_id for c in candidates]
    params = {k: v for k, v in probe.get_params(deep=False).items() if k not in ("extractor", "extractors")}
    description.update(reuse=None, packages=ids,
                       probe={"reuser": _extractor_reusers()[type(probe)], "learnware_id": ids[0],
                              "name": candidates[0].name, "params": params,
                              "learnware_ids": ids if _takes_several(type(probe)) else []})
    state = {"model": outer, "ranking": model.ranking, "probe": _fitted_state(probe, exclude=())}
    return description, state, candidates


def _takes_several(cls: type) -> bool:
    """Whether an extractor reuser takes a sequence of extractors (``extractors``) rather than one."""
    return "extractors" in cls._get_param_names()


def _fitted_state(estimator: Any, exclude: tuple[str, ...], params: bool = False) -> dict[str, Any]:
    """The attributes of ``estimator`` (those its fit set; with ``params`` its parameters too)
    except ``exclude`` and private ones."""
    names = set() if params else set(estimator.get_params(deep=False))
    return {k: v for k, v in vars(estimator).items() if k not in names and k not in exclude and not k.startswith("_")}


def _candidate(c: Candidate) -> dict:
    return {"learnware_id": c.learnware_id, "name": c.name, "reason": c.reason, "weight": c.weight}


def _write_packages(candidates: list[Candidate], packages: list[str], work: Path) -> None:
    from modelreuse.learnware import Learnware

    sources = {c.learnware_id: getattr(c.model, "source", None) for c in candidates}
    if packages:
        (work / "learnwares").mkdir()
    for i, learnware_id in enumerate(packages):
        source = sources[learnware_id]
        if source is None:
            raise UnsupportedModelError(
                f"learnware {learnware_id!r} has no package folder (its ModelAdapter.source is None): only models "
                "loaded from a learnware package (Learnware.load_model, Dock.load_model) can be saved with it")
        Learnware.open(source).to_zip(work / _package_file(i))


def _package_file(i: int) -> str:
    return f"learnwares/{i:03d}.zip"


def _write_state(state: dict, path: Path) -> None:
    import skops.io as sio

    try:
        sio.dump(state, path)
    except Exception as exc:  # skops raises library-specific errors for objects it cannot describe
        raise UnsupportedModelError(f"skops cannot save the fitted state: {type(exc).__name__}: {exc}") from exc
    refused = _refused_types(path)
    if refused:
        raise UnsupportedModelError(f"the fitted state holds {refused}, which could not be loaded back without "
                                    "trust; reusers must keep learnware models only in their 'models' parameter")


def _plain(value: Any) -> Any:
    """JSON-ready: numpy scalars and arrays as Python values, non-finite floats as ``None``."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, np.ndarray):
        return _plain(value.tolist())
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


# ---------------------------------------------------------------------------- load
def load(directory: str | Path, trust: bool = False) -> ReusedModel:
    """The :class:`ReusedModel` saved in ``directory`` (module docstring for the checks).

    Args:
        trust: allow skops types outside the allowlist in the state and learnware artifacts that
            can run code (pickle/joblib); only for a model whose author you trust.

    Raises:
        ModelLoadError: a file is missing or unexpected, ``model.json`` is malformed.
        UntrustedArtifactError: the state (or a learnware's artifact) needs ``trust``.
        UnsafeArchiveError, ManifestError: a package zip is unsafe or malformed.
        UnknownNameError: ``model.json`` names a reuser that is not registered.
    """
    directory = Path(directory)
    if not directory.is_dir():
        raise ModelLoadError(f"{directory} is not a saved model folder (save one with model.save(folder))")
    saved = _read_description(directory)
    _check_files(directory, len(saved.packages))
    state = _read_state(directory / STATE, trust)
    model = ReusedModel(encoder=saved.encoder, ranking=state.get("ranking"), skipped=tuple(saved.skipped),
                        schema=saved.table_schema)
    if saved.probe is not None:
        model.estimator, model.estimator_ = _rebuild_probe(saved.probe, _load_packages(directory, saved.packages, trust),
                                                           state)
    elif saved.reuse is None:
        estimator_ = _part(state, "estimator", None)
        model.estimator, model.estimator_ = clone(estimator_), estimator_
    else:
        candidates = _load_packages(directory, saved.packages, trust)
        model.estimator, model.estimator_ = _rebuild_auto(saved.reuse, candidates, state)
    vars(model).update(_part(state, "model", dict))
    return model


def _read_description(directory: Path) -> SavedModel:
    if not (directory / MODEL_JSON).is_file():
        raise ModelLoadError(f"{directory} has no {MODEL_JSON}; is it a folder written by ReusedModel.save?")
    data = read_json(directory / MODEL_JSON, ModelLoadError, max_bytes=MAX_MODEL_JSON_BYTES)
    try:
        saved = SavedModel.model_validate(data)
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}"
                             for e in exc.errors(include_url=False, include_input=False)[:10])
        raise ModelLoadError(f"{MODEL_JSON} is not a saved model description: {problems}") from None
    if saved.reuse is not None:
        REUSERS.get(saved.reuse.reuser)  # UnknownNameError listing the registered names
        unknown = sorted(set(saved.reuse.params) - set(AutoReuser._get_param_names()))
        ids = {c.learnware_id for c in (*saved.reuse.mixture, *saved.reuse.ranking)}
        if unknown or ids != set(saved.packages) or len(set(saved.packages)) != len(saved.packages):
            raise ModelLoadError(f"{MODEL_JSON} is inconsistent: " + (f"unknown AutoReuser parameters {unknown}"
                                 if unknown else "its packages are not exactly the candidates' learnwares"))
    elif saved.probe is not None:
        cls = EXTRACTOR_REUSERS.get(saved.probe.reuser)
        allowed = set(cls._get_param_names()) - {"extractor", "extractors"}
        unknown = sorted(set(saved.probe.params) - allowed)
        several = _takes_several(cls)
        ids = saved.probe.learnware_ids if several else [saved.probe.learnware_id]
        if unknown or not ids or saved.packages != ids or ids[0] != saved.probe.learnware_id \
                or len(set(ids)) != len(ids) or (saved.probe.learnware_ids and not several):
            raise ModelLoadError(f"{MODEL_JSON} is inconsistent: " + (f"unknown {saved.probe.reuser} parameters {unknown}"
                                 if unknown else "its packages are not exactly the probed extractors' learnwares"))
    elif saved.packages:
        raise ModelLoadError(f"{MODEL_JSON} is inconsistent: packages listed for a model that reuses none")
    if saved.encoder is not None:
        from modelreuse.models.encoders import ENCODERS

        ENCODERS.get(saved.encoder)
    return saved


def _check_files(directory: Path, n_packages: int) -> None:
    """Exactly the expected files, regular and not links (:func:`scan_directory`)."""
    expected = {MODEL_JSON, STATE, *(_package_file(i) for i in range(n_packages))}
    present = {name for name, _ in scan_directory(directory, DEFAULT_LIMITS)}
    missing, extra = sorted(expected - present), sorted(present - expected)
    if missing or extra:
        raise ModelLoadError(f"{directory} is not as ReusedModel.save writes it: "
                             + "; ".join(([f"missing {missing}"] if missing else [])
                                         + ([f"unexpected file(s) {extra} (not read)"] if extra else [])))


def _refused_types(path: Path) -> list[str]:
    """The skops types in ``path`` outside :data:`STATE_TYPES`, the reuser classes and the
    learnware allowlist (also checks the file's schema size and depth)."""
    import skops.io as sio

    from modelreuse.models.persistence import skops_refused_types

    own = STATE_TYPES | {f"{cls.__module__}.{cls.__qualname__}" for cls in
                         [*map(REUSERS.get, REUSERS.names()), *_extractor_reusers()]}
    untrusted = sio.get_untrusted_types(file=path)
    return skops_refused_types(path, [t for t in untrusted if t not in own])


def _read_state(path: Path, trust: bool) -> dict:
    import skops.io as sio

    from modelreuse.models.persistence import check_tree_indices

    try:
        refused = [] if trust else _refused_types(path)
        if refused:
            raise UntrustedArtifactError(
                f"{path.name} holds types that are not on modelreuse's allowlist: {refused}. They could run code "
                "when loaded; pass trust=True only if you trust whoever saved the model.")
        state = sio.load(path, trusted=sio.get_untrusted_types(file=path))
    except (UntrustedArtifactError, ModelLoadError):
        raise
    except Exception as exc:  # a corrupt file raises zip/JSON/skops errors
        raise ModelLoadError(f"cannot read {path.name}: {type(exc).__name__}: {exc}") from exc
    if not isinstance(state, dict):
        raise ModelLoadError(f"{path.name} does not hold a saved model's state")
    if not trust:
        check_tree_indices(state)
    return state


def _part(state: dict, key: str, kind: type | None) -> Any:
    value = state.get(key)
    if (kind is None and value is None) or (kind is not None and not isinstance(value, kind)):
        raise ModelLoadError(f"{STATE} lacks the {key!r} part of the saved state")
    return value


def _load_packages(directory: Path, packages: list[str], trust: bool) -> dict[str, Candidate]:
    """Each package reopened with :meth:`Learnware.open` into a private folder that lives as long as
    its loaded model (so the model can be saved again), its model loaded with ``trust``."""
    from modelreuse.learnware import Learnware

    candidates = {}
    for i, learnware_id in enumerate(packages):
        folder = Path(tempfile.mkdtemp(prefix="reused-model-"))
        try:
            lw = Learnware.open(directory / _package_file(i), extract_to=folder / "package")
            model = lw.load_model(trust=trust)
            spec = lw.rkme if "rkme" in lw.spec_kinds else None
        except BaseException:
            shutil.rmtree(folder, ignore_errors=True)
            raise
        weakref.finalize(model, shutil.rmtree, str(folder), True)
        candidates[learnware_id] = Candidate(learnware_id, lw.manifest.name, model, spec=spec)
    return candidates


def _rebuild_probe(saved: SavedProbe, loaded: dict[str, Candidate], state: dict) -> tuple[Any, Any]:
    """The unfitted reuser of the loaded extractor(s) and its fitted copy with the saved state."""
    cls = EXTRACTOR_REUSERS.get(saved.reuser)
    extractors = []
    for learnware_id in saved.learnware_ids or [saved.learnware_id]:
        extractors.append(loaded[learnware_id].model)
        extractors[-1].learnware_id = learnware_id
    probe = cls(extractors=tuple(extractors), **saved.params) if _takes_several(cls) else \
        cls(extractor=extractors[0], **saved.params)
    fitted = clone(probe)
    vars(fitted).update(_part(state, "probe", dict))
    return probe, fitted


def _rebuild_auto(saved: SavedReuse, loaded: dict[str, Candidate], state: dict) -> tuple[AutoReuser, AutoReuser]:
    """The unfitted AutoReuser and its fitted copy, whose chosen reuser is rebuilt over its pool
    as :meth:`AutoReuser.fit` builds it, then given its saved fitted state."""
    def pool(entries: list[SavedCandidate]) -> tuple[Candidate, ...]:
        return tuple(Candidate(e.learnware_id, e.name, loaded[e.learnware_id].model, e.reason, e.weight,
                               loaded[e.learnware_id].spec) for e in entries)

    auto = AutoReuser(mixture=pool(saved.mixture), ranking=pool(saved.ranking), **saved.params)
    fitted = clone(auto)
    vars(fitted).update(_part(state, "auto", dict))
    if getattr(fitted, "reuser_", None) != saved.reuser:
        raise ModelLoadError(f"{MODEL_JSON} and {STATE} disagree on the reuser chosen")
    fitted.estimator_ = build_reuser(saved.reuser, fitted.mixture, fitted.ranking, fitted.task_type_)
    vars(fitted.estimator_).update(_part(state, "reuser", dict))
    fitted.chosen_ = pool_of(saved.reuser, fitted.mixture, fitted.ranking)
    return auto, fitted

