"""The learnware package: model artifact + specifications + card, as a directory or zip.

Layout::

    manifest.json        validated by :class:`Manifest`
    model.<ext>          the artifact (see modelreuse.models.persistence)
    specs/semantic.json  the card, always (modelreuse.specs.semantic)
    specs/<kind><suffix> one file per further specification listed in the manifest: any kind
                         registered in modelreuse.specs.base.SPEC_KINDS (rkme.npz for statistical
                         search and reuse, records.json for leaderboard results, ...)

Reading a package never runs code from it: zips and folders are checked by
:mod:`modelreuse._archive` (names, links, sizes, compression ratio; extraction is all-or-nothing),
the manifest is read with bounded JSON and validated with bounded, control-character-free fields,
and the model is only loaded on request, through :func:`modelreuse.models.load_model` (pickle
needs ``trust=True``).
"""

from __future__ import annotations

import shutil
import tempfile
import weakref
from collections.abc import Sequence
from functools import partial
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StrictBool,
    StrictInt,
    StringConstraints,
    ValidationError,
    field_validator,
    model_validator,
)

from modelreuse._archive import (
    DEFAULT_LIMITS,
    PackageLimits,
    check_entry_name,
    extract_zip,
    find_control_character,
    scan_directory,
    write_zip,
)
from modelreuse._safeio import read_json
from modelreuse.errors import ManifestError, SchemaError, UnsafeArchiveError
from modelreuse.models.adapters import ModelAdapter
from modelreuse.models.persistence import ARTIFACT_FORMATS, load_model, save_model
from modelreuse.specs.base import SPEC_KINDS, Specification, kind_of, load_spec, spec_file
from modelreuse.specs.records import RecordsSpec
from modelreuse.specs.rkme import RKMESpec
from modelreuse.specs.semantic import SemanticSpec
from modelreuse.task import TASK_TYPES, feature_space_key

__all__ = ["Learnware", "Manifest", "PackageLimits", "DEFAULT_LIMITS", "safe_extract"]

MANIFEST_VERSION = 1
#: manifest.json limits: bytes, JSON nesting depth, listed features (and output classes).
MAX_MANIFEST_BYTES = 1024 * 1024
MAX_MANIFEST_DEPTH = 8
MAX_FEATURES = 65_536  # as many as an RKME spec may have (specs/rkme.py)
MAX_CLASSES = 100_000
MAX_PROBLEMS_SHOWN = 10

#: Extract a learnware zip with the checks of :mod:`modelreuse._archive` (all-or-nothing).
safe_extract = extract_zip


def _refuse_control(value: str, allowed: str = "") -> str:
    bad = find_control_character(value, allowed)
    if bad is not None:
        raise ValueError(f"contains the control or formatting character U+{ord(bad):04X}; "
                         "use plain text (no terminal escapes, bidi overrides or zero-width characters)")
    return value


def _text(max_length: int, min_length: int = 0, multiline: bool = False) -> Any:
    """A bounded plain-text string type (newlines and tabs only where ``multiline``)."""
    return Annotated[str, StringConstraints(min_length=min_length, max_length=max_length),
                     AfterValidator(partial(_refuse_control, allowed="\n\t" if multiline else ""))]


def _unique(values: list | None) -> list | None:
    if values is not None and len(set(values)) != len(values):
        seen: set = set()
        repeated = next(v for v in values if v in seen or seen.add(v))
        raise ValueError(f"{repeated!r} is listed more than once; entries must be unique")
    return values


Short = _text(64, min_length=1)
Label = _text(256, min_length=1)
Title = _text(200, min_length=1)
Line = _text(200)
Description = _text(20_000, multiline=True)
SafeInt = Annotated[StrictInt, Field(ge=-(2**53), le=2**53)]
Scalar = StrictBool | SafeInt | Annotated[float, Field(strict=True, allow_inf_nan=False)] | Label | None


class InputSchema(BaseModel):
    """What the model takes: a float matrix of ``n_features`` columns.

    ``encoder`` names the frozen encoder that maps raw text/images to those features
    (e.g. ``"all-MiniLM-L6-v2"``); ``None`` for tabular features used as they are.
    """

    model_config = ConfigDict(extra="forbid")
    n_features: int = Field(gt=0, le=MAX_FEATURES)
    feature_names: Annotated[list[Label], Field(max_length=MAX_FEATURES), AfterValidator(_unique)] | None = None
    encoder: Title | None = None

    @model_validator(mode="after")
    def _names_match(self) -> InputSchema:
        if self.feature_names is not None and len(self.feature_names) != self.n_features:
            raise ValueError(f"{len(self.feature_names)} feature_names for n_features={self.n_features}")
        return self


class OutputSchema(BaseModel):
    """Class labels (classification) or the target's name (regression)."""

    model_config = ConfigDict(extra="forbid")
    classes: Annotated[list[SafeInt | Label], Field(max_length=MAX_CLASSES), AfterValidator(_unique)] | None = None
    target: Label | None = None


def _registered(registry: Any, value: str) -> str:
    if value not in registry:
        raise ValueError(f"unknown {registry.kind} {value!r}; registered: {', '.join(registry.names())}")
    return value


class SpecEntry(BaseModel):
    model_config = ConfigDict(extra="forbid")
    kind: Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_]{0,63}$"), AfterValidator(partial(_registered, SPEC_KINDS))]
    file: str

    @field_validator("file")
    @classmethod
    def _inside_specs(cls, value: str) -> str:
        try:
            name, is_dir = check_entry_name(value)
        except UnsafeArchiveError as exc:
            raise ValueError(f"spec file must be a relative path under specs/: {exc}") from None
        if is_dir or not name.startswith("specs/"):
            raise ValueError(f"spec file {value!r} must be a relative path under specs/")
        return name


class Architecture(BaseModel):
    """A registered torch architecture and its constructor arguments (JSON scalars or short lists)."""

    model_config = ConfigDict(extra="forbid")
    name: Short
    kwargs: Annotated[dict[Short, Scalar | Annotated[list[Scalar], Field(max_length=64)]],
                      Field(max_length=32)] = Field(default_factory=dict)


class Artifact(BaseModel):
    model_config = ConfigDict(extra="forbid")
    format: Literal[ARTIFACT_FORMATS]  # type: ignore[valid-type]
    file: str
    architecture: Architecture | None = None

    @field_validator("file")
    @classmethod
    def _plain_name(cls, value: str) -> str:
        try:
            name, is_dir = check_entry_name(value)
        except UnsafeArchiveError as exc:
            raise ValueError(f"artifact file must be a plain file name at the package root: {exc}") from None
        if is_dir or "/" in name:
            raise ValueError(f"artifact file {value!r} must be a plain file name at the package root")
        return name


class Manifest(BaseModel):
    """The validated ``manifest.json`` of a learnware.

    Every string is bounded and free of control and formatting characters (the description may
    hold newlines and tabs), lists are bounded and feature names and classes unique, so a
    manifest can be stored in any database column and printed on a terminal as it is.
    """

    model_config = ConfigDict(extra="forbid")
    manifest_version: int = Field(default=MANIFEST_VERSION, ge=1, le=MANIFEST_VERSION)
    name: Title
    description: Description = ""
    tags: Annotated[list[Short], Field(max_length=64)] = Field(default_factory=list)
    task_type: Annotated[Short, AfterValidator(partial(_registered, TASK_TYPES))]
    modality: Literal["tabular", "text", "image"]
    input_schema: InputSchema
    output: OutputSchema
    licence: Line = "unspecified"
    owner: Line = "unknown"
    specs: Annotated[list[SpecEntry], Field(min_length=1, max_length=16)]
    artifact: Artifact
    versions: Annotated[dict[Short, Short], Field(max_length=32)] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _consistent(self) -> Manifest:
        TASK_TYPES.get(self.task_type)(self.output.classes, self.output.target)
        kinds = [s.kind for s in self.specs]
        if len(set(kinds)) != len(kinds):
            raise ValueError(f"duplicate spec kinds: {kinds}")
        return self

    @property
    def feature_space(self) -> str:
        """The key of this learnware's feature space (:func:`modelreuse.task.feature_space_key`)."""
        schema = self.input_schema
        return feature_space_key(schema.n_features, schema.feature_names, schema.encoder)

    @classmethod
    def parse(cls, data: Any) -> Manifest:
        """Validate ``data`` (a dict) or raise :class:`ManifestError` listing the problems."""
        try:
            return cls.model_validate(data)
        except ValidationError as exc:
            errors = exc.errors(include_url=False, include_input=False)
            problems = [f"{_location(e['loc'])}: {e['msg']}" for e in errors[:MAX_PROBLEMS_SHOWN]]
            more = f"; and {len(errors) - MAX_PROBLEMS_SHOWN} more" if len(errors) > MAX_PROBLEMS_SHOWN else ""
            raise ManifestError(f"invalid manifest: {'; '.join(problems)}{more}") from None


def _location(loc: tuple) -> str:
    """An error location for a terminal: keys from the file are shown escaped and shortened."""
    parts = [p if isinstance(p, int) or (str(p).isprintable() and len(str(p)) <= 64) else ascii(str(p)[:64])
             for p in loc]
    return ".".join(map(str, parts)) or "manifest"


class Learnware:
    """A learnware on disk: a validated manifest plus its directory.

    Use :meth:`build` to create one from a fitted model, :meth:`open` to read one.
    """

    def __init__(self, manifest: Manifest, root: Path, learnware_id: str | None = None):
        self.manifest = manifest
        self.root = Path(root)
        self.id = learnware_id
        self._specs: dict[str, Specification] = {}
        self._cleanup: weakref.finalize | None = None

    # ---------------------------------------------------------------- create
    @classmethod
    def build(
        cls,
        directory: str | Path,
        model: Any,
        rkme: RKMESpec | None = None,
        *,
        name: str,
        task_type: str,
        modality: str = "tabular",
        description: str = "",
        tags: list[str] | None = None,
        classes: list | None = None,
        target: str | None = None,
        feature_names: list[str] | None = None,
        encoder: str | None = None,
        n_features: int | None = None,
        X: Any = None,
        specs: Sequence[Specification] = (),
        licence: str = "unspecified",
        owner: str = "unknown",
        fmt: str | None = None,
        architecture: dict | None = None,
        records: RecordsSpec | None = None,
    ) -> Learnware:
        """Write a new learnware package into ``directory`` (created) and return it.

        Specs: the card (``semantic``) is always written from ``name``, ``description``, ``tags``,
        ``task_type`` and ``modality``; ``specs`` adds any registered kinds (``rkme`` and ``records``
        may also be passed as their own arguments). With rows ``X`` and no ``rkme`` given, an RKME is
        fitted on them (``RKMESpec.fit(X)``). Without an ``rkme`` the learnware is found by the
        selectors of its other kinds only (e.g. semantic search), not by statistical search.

        The input width is ``n_features``, else that of a spec with ``n_features`` (the RKME), ``X``
        or ``feature_names``, which must all agree. The model itself is not inspected here: the
        dock checks it predicts on rows of that width when the learnware is submitted.
        """
        root = Path(directory)
        given = _specs_by_kind([s for s in (rkme, records, *specs) if s is not None])
        if X is not None and "rkme" not in given:
            given["rkme"] = RKMESpec.fit(X)
        width = _input_width(n_features, given, X, feature_names)
        (root / "specs").mkdir(parents=True, exist_ok=True)
        artifact = save_model(model, root, fmt=fmt, architecture=architecture)
        given["semantic"] = SemanticSpec(name=name, description=description, tags=list(tags or []),
                                         task_type=task_type, modality=modality)
        entries = []
        for kind in sorted(given):
            given[kind].save(root / spec_file(kind))
            entries.append({"kind": kind, "file": spec_file(kind)})
        data = {
            "name": name, "description": description, "tags": list(tags or []),
            "task_type": task_type, "modality": modality,
            "input_schema": {"n_features": width, "feature_names": feature_names, "encoder": encoder},
            "output": {"classes": _plain(classes), "target": target},
            "licence": licence, "owner": owner,
            "specs": entries,
            "artifact": artifact, "versions": _versions(),
        }
        manifest = Manifest.parse(data)
        (root / "manifest.json").write_text(manifest.model_dump_json(indent=2))
        return cls(manifest, root)

    # ---------------------------------------------------------------- read
    @classmethod
    def open(cls, path: str | Path, extract_to: str | Path | None = None, *,
             limits: PackageLimits = DEFAULT_LIMITS) -> Learnware:
        """Open a package directory or zip, checking it within ``limits`` (see :mod:`modelreuse._archive`).

        A zip is checked and extracted all-or-nothing into ``extract_to`` (a new or empty folder,
        removed again if the package is refused). Without ``extract_to`` it goes to a private
        temporary folder that the returned learnware owns: it is removed by :meth:`close`, at the
        end of a ``with Learnware.open(zip) as lw:`` block, or when the object is garbage
        collected, so keep the learnware (not just ``lw.root``) while you use its files.
        A directory is read in place and never removed. Links, special files and oversized
        packages raise :class:`UnsafeArchiveError`; a bad manifest raises :class:`ManifestError`.
        """
        path = Path(path)
        if not path.is_file():
            return cls._read(path, limits)
        owned = extract_to is None
        folder = Path(tempfile.mkdtemp(prefix="learnware-")) if owned else Path(extract_to)
        existed = folder.exists()
        root = folder / "package" if owned else folder
        extracted = False
        try:
            extract_zip(path, root, limits)  # all-or-nothing: a refused zip changes nothing
            extracted = True
            lw = cls._read(root, limits)
        except BaseException:
            if owned or extracted:  # remove what this call created, never a folder it did not fill
                shutil.rmtree(folder, ignore_errors=True)
            if extracted and existed and not owned:
                folder.mkdir()  # it was an empty folder before: leave it so
            raise
        if owned:
            lw._cleanup = weakref.finalize(lw, shutil.rmtree, str(folder), True)
        return lw

    @classmethod
    def _read(cls, root: Path, limits: PackageLimits) -> Learnware:
        """Validate a package directory: its files (no links), its manifest and the files it lists."""
        if not root.is_dir() or not (root / "manifest.json").is_file():
            raise ManifestError(f"{root} has no manifest.json; is it a learnware directory or zip?")
        names = {name for name, _ in scan_directory(root, limits)}
        data = read_json(root / "manifest.json", ManifestError, max_bytes=MAX_MANIFEST_BYTES,
                         max_depth=MAX_MANIFEST_DEPTH)
        lw = cls(Manifest.parse(data), root)
        missing = [name for name in lw.files() if name not in names]
        if missing:
            raise ManifestError(f"manifest lists {missing[0]!r} but the package has no such file")
        return lw

    def close(self) -> None:
        """Remove the temporary folder of a learnware opened from a zip without ``extract_to``
        (a no-op otherwise); its files are gone afterwards."""
        if self._cleanup is not None:
            self._cleanup()

    def __enter__(self) -> Learnware:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def spec(self, kind: str) -> Specification:
        """Load (once) and return the spec of the given kind."""
        if kind not in self._specs:
            entry = next((s for s in self.manifest.specs if s.kind == kind), None)
            if entry is None:
                raise ManifestError(f"learnware {self.manifest.name!r} has no {kind!r} spec")
            self._specs[kind] = load_spec(kind, self.root / entry.file)
        return self._specs[kind]

    @property
    def rkme(self) -> RKMESpec:
        """The RKME spec (:class:`ManifestError` for a learnware without one)."""
        return self.spec("rkme")  # type: ignore[return-value]

    @property
    def spec_kinds(self) -> list[str]:
        """The kinds of spec this learnware lists."""
        return [s.kind for s in self.manifest.specs]

    @property
    def records(self) -> RecordsSpec | None:
        """The leaderboard results attached to this learnware, or None."""
        has = any(s.kind == "records" for s in self.manifest.specs)
        return self.spec("records") if has else None  # type: ignore[return-value]

    def load_specs(self) -> None:
        """Load every listed spec, so a malformed one raises :class:`SpecError` now, and one whose
        width (``n_features``, where the kind has it) differs from the input schema raises
        :class:`SchemaError`."""
        declared = self.manifest.input_schema.n_features
        for entry in self.manifest.specs:
            width = getattr(self.spec(entry.kind), "n_features", declared)
            if width != declared:
                raise SchemaError(f"the {entry.kind} spec has {width} features; input_schema declares {declared}")

    def load_model(self, trust: bool = False) -> ModelAdapter:
        """Load the model artifact behind the prediction protocol (no code runs without trust)."""
        m = self.manifest
        raw = load_model(self.root, m.artifact.model_dump(), trust=trust)
        return ModelAdapter(raw, m.task_type, m.output.classes)

    def files(self) -> list[str]:
        """The files that make up the package: the manifest, the artifact and every listed spec."""
        return ["manifest.json", self.manifest.artifact.file, *(s.file for s in self.manifest.specs)]

    def to_zip(self, path: str | Path, limits: PackageLimits = DEFAULT_LIMITS) -> Path:
        """Write the package as a zip with sorted entries (byte-identical for equal content).

        Only :meth:`files` are written: anything else in the folder (a README, a stray ``numpy.py``)
        is not part of the learnware and is left out. Links in the package folder are refused,
        never followed (:func:`modelreuse._archive.write_zip`).
        """
        return write_zip(self.root, path, limits, only=set(self.files()))


def _specs_by_kind(specs: list[Specification]) -> dict[str, Specification]:
    """``specs`` keyed by registered kind; the card is built from the arguments, never passed."""
    by_kind: dict[str, Specification] = {}
    for spec in specs:
        kind = kind_of(spec)
        if kind == "semantic":
            raise ManifestError("the semantic spec is written from name, description, tags, task_type and modality; "
                                "pass those instead of a SemanticSpec")
        if kind in by_kind:
            raise ManifestError(f"two {kind!r} specs given; a learnware has at most one spec of each kind")
        by_kind[kind] = spec
    return by_kind


def _input_width(n_features: int | None, specs: dict[str, Specification], X: Any, feature_names: list | None) -> int:
    """The one width that every source that states one agrees on (see :meth:`Learnware.build`)."""
    import numpy as np

    stated = {f"the {kind} spec": getattr(spec, "n_features", None) for kind, spec in specs.items()}
    stated.update({"n_features": n_features, "X": None if X is None else np.shape(X)[-1],
                   "feature_names": None if feature_names is None else len(feature_names)})
    widths = {source: int(w) for source, w in stated.items() if w is not None}
    if not widths:
        raise ManifestError("cannot tell the model's input width: pass n_features (or feature_names, X or an rkme spec)")
    if len(set(widths.values())) > 1:
        raise ManifestError(f"the input width is stated differently: {widths}; make them agree")
    return next(iter(widths.values()))


def _plain(values: list | None) -> list | None:
    """Class labels as JSON-friendly ints or strings."""
    if values is None:
        return None
    out = []
    for v in values:
        item = v.item() if hasattr(v, "item") else v
        out.append(item if isinstance(item, (int, str)) and not isinstance(item, bool) else str(item))
    return out


def _versions() -> dict[str, str]:
    import numpy
    import sklearn

    from modelreuse.config import __version__

    return {"modelreuse": __version__, "numpy": numpy.__version__, "scikit-learn": sklearn.__version__}
