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
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
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
    scan_directory,
    write_zip,
)
from modelreuse._fields import Description, Label, Line, Short, Title, unique
from modelreuse._safeio import read_json
from modelreuse.errors import ManifestError, SchemaError, UnsafeArchiveError
from modelreuse.models.adapters import ModelAdapter, as_model
from modelreuse.models.extractors import RAW_INPUTS, FeatureExtractor, probe_inputs
from modelreuse.models.extractors import n_parameters as count_parameters
from modelreuse.models.persistence import ARTIFACT_FORMATS, load_model, save_model
from modelreuse.models.table_schema import TableSchema
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
#: Rows of the developer's table a model must predict on at build time.
PROBE_ROWS = 8

#: Extract a learnware zip with the checks of :mod:`modelreuse._archive` (all-or-nothing).
safe_extract = extract_zip


SafeInt = Annotated[StrictInt, Field(ge=-(2**53), le=2**53)]
Scalar = StrictBool | SafeInt | Annotated[float, Field(strict=True, allow_inf_nan=False)] | Label | None


class InputSchema(BaseModel):
    """What the model takes.

    ``n_features`` (and ``feature_names``, when known) describe the float matrix specs are built
    on; ``encoder`` names the frozen encoder that maps raw text/images to those features (e.g.
    ``"all-MiniLM-L6-v2"``; ``None`` for tabular features). ``table`` is the raw table's schema
    (:class:`~modelreuse.models.table_schema.TableSchema`), whose encoding gives that matrix.
    ``takes`` is the contract between the artifact and the specs: ``"features"``, the model
    predicts on the float matrix (missing cells filled with its RKME's center, the developer's
    column means); ``"table"``, the model is a pipeline that predicts on a DataFrame of the
    schema's raw columns (missing cells stay missing for its own imputer); ``"text"`` /
    ``"images"``, a feature extractor that takes raw texts or images (square ``image_size``
    pixels for a torch backbone or EfficientNet; see :mod:`modelreuse.models.extractors`), whose
    ``n_features`` is the width of the features it outputs.
    """

    model_config = ConfigDict(extra="forbid")
    n_features: int = Field(gt=0, le=MAX_FEATURES)
    feature_names: Annotated[list[Label], Field(max_length=MAX_FEATURES), AfterValidator(unique)] | None = None
    encoder: Title | None = None
    table: TableSchema | None = None
    takes: Literal["features", "table", "text", "images"] = "features"
    image_size: int | None = Field(default=None, ge=8, le=1024)

    @model_validator(mode="after")
    def _names_match(self) -> InputSchema:
        if self.feature_names is not None and len(self.feature_names) != self.n_features:
            raise ValueError(f"{len(self.feature_names)} feature_names for n_features={self.n_features}")
        if self.table is not None and (self.table.feature_names, self.table.encoder) != (self.feature_names, self.encoder):
            raise ValueError("feature_names and encoder must be those of the table schema's encoding")
        if self.takes == "table" and (self.table is None or self.table.encoder is not None):
            raise ValueError("takes='table' needs a table schema of numeric/categorical columns")
        if self.takes in ("text", "images") and (self.table is not None or self.feature_names is not None):
            raise ValueError(f"takes={self.takes!r} (raw inputs of a feature extractor) has no table or feature_names")
        if (self.image_size is not None) != (self.takes == "images"):
            raise ValueError("image_size is given exactly for takes='images' (the side of the square images it takes)")
        return self


class OutputSchema(BaseModel):
    """Class labels (classification; a feature extractor's source-head classes) or the target's name
    (regression); ``feature_size``: the width of a feature extractor's features."""

    model_config = ConfigDict(extra="forbid")
    classes: Annotated[list[SafeInt | Label], Field(max_length=MAX_CLASSES), AfterValidator(unique)] | None = None
    target: Label | None = None
    feature_size: int | None = Field(default=None, gt=0, le=MAX_FEATURES)


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
        extractor = self.task_type == "feature_extraction"
        raw = self.input_schema.takes in ("text", "images")
        if extractor != raw or extractor != (self.output.feature_size is not None):
            raise ValueError("a feature_extraction learnware (and only one) takes raw 'text' or 'images' and "
                             "declares output.feature_size")
        if extractor and (RAW_INPUTS.get(self.modality) != self.input_schema.takes
                          or self.input_schema.n_features != self.output.feature_size):
            raise ValueError(f"a {self.modality} feature extractor takes {RAW_INPUTS.get(self.modality, 'text or images')!r} "
                             "and its input_schema.n_features is its output.feature_size")
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
        modality: str | None = None,
        description: str = "",
        tags: list[str] | None = None,
        classes: list | None = None,
        target: str | None = None,
        feature_names: list[str] | None = None,
        encoder: str | None = None,
        n_features: int | None = None,
        X: Any = None,
        table: Any = None,
        schema: TableSchema | None = None,
        text_column: str | None = None,
        specs: Sequence[Specification] = (),
        licence: str = "unspecified",
        owner: str = "unknown",
        fmt: str | None = None,
        architecture: dict | None = None,
        records: RecordsSpec | None = None,
    ) -> Learnware:
        """Write a new learnware package into ``directory`` and return it.

        The package is written into a temporary sibling folder and renamed into place at the end,
        so a failed build leaves nothing; ``directory`` must not exist or be an empty folder.

        From a table: pass the developer's rows as ``table`` (a pandas DataFrame, the ``target``
        column may be in it) and the model fitted on them. The table schema is ``schema``, else
        inferred (:meth:`TableSchema.infer`; the columns of a pipeline fitted on a DataFrame, its
        ``feature_names_in_``, else the informative ones; ``text_column`` for a text learnware).
        A model fitted on a DataFrame takes raw columns (``takes="table"``), any other the schema
        encoding; it must predict on a few of the table's rows here (:class:`SchemaError`
        otherwise). The RKME is fitted on the encoding with missing cells filled by column means
        (see :mod:`modelreuse.models.table_schema`); ``classes`` default to the model's.

        From a matrix: ``X`` (rows the model predicts on) gives an RKME unless ``rkme`` is passed;
        ``specs`` adds any registered kinds. The card (``semantic``) is always written from
        ``name``, ``description``, ``tags``, ``task_type`` and ``modality``. Without an RKME the
        learnware is found by the selectors of its other kinds only (e.g. semantic search).
        The input width is ``n_features``, else that of a spec with ``n_features`` (the RKME),
        ``X`` or ``feature_names``, which must all agree.
        """
        takes = "features"
        if table is not None:
            schema, X, takes = _from_table(model, table, schema, target, text_column, task_type, classes)
            feature_names, encoder = schema.feature_names, schema.encoder
            classes = classes if classes is not None or task_type != "classification" else getattr(model, "classes_", None)
        modality = modality or ("text" if encoder and schema is not None else "tabular")
        given = _specs_by_kind([s for s in (rkme, records, *specs) if s is not None])
        if X is not None and "rkme" not in given:
            given["rkme"] = RKMESpec.fit(X)
        width = _input_width(n_features, given, X, feature_names)
        given["semantic"] = SemanticSpec(name=name, description=description, tags=list(tags or []),
                                         task_type=task_type, modality=modality)
        entries = [{"kind": kind, "file": spec_file(kind)} for kind in sorted(given)]
        data = {
            "name": name, "description": description, "tags": list(tags or []),
            "task_type": task_type, "modality": modality,
            "input_schema": {"n_features": width, "feature_names": feature_names, "encoder": encoder,
                             "table": None if schema is None else schema.model_dump(), "takes": takes},
            "output": {"classes": _plain(classes), "target": target},
            "licence": licence, "owner": owner,
            "specs": entries, "versions": _versions(),
        }
        with _building(Path(directory)) as root:
            data["artifact"] = save_model(model, root, fmt=fmt, architecture=architecture)
            manifest = Manifest.parse(data)
            (root / "specs").mkdir()
            for kind in sorted(given):
                given[kind].save(root / spec_file(kind))
            (root / "manifest.json").write_text(manifest.model_dump_json(indent=2))
        return cls(manifest, Path(directory))

    @classmethod
    def build_extractor(
        cls,
        directory: str | Path,
        model: Any,
        *,
        name: str,
        modality: str,
        feature_size: int,
        classes: list | None = None,
        encoder: str | None = None,
        image_size: int | None = None,
        architecture: dict | None = None,
        n_parameters: int | None = None,
        source_data: str = "unknown",
        description: str = "",
        tags: list[str] | None = None,
        licence: str = "unspecified",
        owner: str = "unknown",
    ) -> Learnware:
        """Write a feature-extraction learnware (a PTM backbone, see
        :mod:`modelreuse.models.extractors`) into ``directory`` and return it.

        ``model``: a fitted scikit-learn pipeline (skops; with ``classes`` its last step is the
        source head), a torch module with ``features(x)`` and source logits from ``forward(x)``
        (safetensors; ``architecture`` names its registered factory), or, with ``encoder`` (a
        registered offline encoder whose output are the features), the source head on those
        features. ``image_size``: the side of the square images an image extractor takes (default 32).

        The card (semantic spec) states the modality, input type, feature size, parameter count
        (``n_parameters``; default: the artifact's own, so pass it for a named encoder, whose
        weights are not in the package) and ``source_data``, in its description and as tags. The extractor is run on a few probe
        rows here (:func:`modelreuse.models.extractors.probe_inputs`); wrong feature or head widths
        raise :class:`SchemaError` and leave nothing.
        """
        takes = RAW_INPUTS.get(modality)
        if takes is None:
            raise ManifestError(f"a feature extractor takes text or image inputs; modality {modality!r} is neither")
        image_size = (image_size or 32) if modality == "image" else None
        params = count_parameters(model) if n_parameters is None else int(n_parameters)
        card = [f"input: raw {takes}" + (f" ({image_size}x{image_size} px)" if image_size else ""),
                f"features: {feature_size}", f"parameters: {params}", f"source data: {source_data}",
                "source head: " + (f"{len(classes)} classes" if classes is not None else "none")]
        tags = [*(tags or []), "feature-extractor", f"input:{takes}", f"features:{feature_size}",
                f"parameters:{params}", f"source:{source_data}"[:64]]
        description = "\n".join([description, *card]).strip()
        data = {
            "name": name, "description": description, "tags": tags,
            "task_type": "feature_extraction", "modality": modality,
            "input_schema": {"n_features": feature_size, "encoder": encoder, "takes": takes, "image_size": image_size},
            "output": {"classes": _plain(classes), "feature_size": feature_size},
            "licence": licence, "owner": owner,
            "specs": [{"kind": "semantic", "file": spec_file("semantic")}], "versions": _versions(),
        }
        semantic = SemanticSpec(name=name, description=description, tags=tags, task_type="feature_extraction",
                                modality=modality)
        with _building(Path(directory)) as root:
            data["artifact"] = save_model(model, root, architecture=architecture)
            manifest = Manifest.parse(data)
            (root / "specs").mkdir()
            semantic.save(root / spec_file("semantic"))
            (root / "manifest.json").write_text(manifest.model_dump_json(indent=2))
            extractor = cls(manifest, root).load_model(trust=False)
            probe = probe_inputs(modality, manifest.input_schema.image_size)
            extractor.features(probe)
            if extractor.has_head:
                extractor.source_proba(probe)
        return cls(manifest, Path(directory))

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

    def load_model(self, trust: bool = False) -> ModelAdapter | FeatureExtractor:
        """Load the model artifact behind the prediction protocol (no code runs without trust); a
        feature extractor as a :class:`~modelreuse.models.extractors.FeatureExtractor`."""
        m = self.manifest
        raw = load_model(self.root, m.artifact.model_dump(), trust=trust)
        if m.task_type == "feature_extraction":
            schema = m.input_schema
            return FeatureExtractor(raw, m.modality, m.output.feature_size, m.output.classes, schema.encoder,
                                    schema.image_size, name=m.name, learnware_id=self.id, source=self.root)
        return ModelAdapter(raw, m.task_type, m.output.classes, prepare=self._model_input(), source=self.root)

    def _model_input(self) -> Any:
        """How rows of the input schema become the model's input (:class:`InputSchema` ``takes``):
        decoded to raw columns, or missing cells filled with the RKME's center."""
        schema = self.manifest.input_schema
        if schema.takes == "table":
            return schema.table.decode
        if "rkme" not in self.spec_kinds:
            return None
        return partial(fill_missing, values=self.rkme.center)

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


@contextmanager
def _building(directory: Path) -> Iterator[Path]:
    """A temporary sibling of ``directory`` to write into, renamed to ``directory`` on success and
    removed on any failure (``directory`` must not exist, or be an empty folder)."""
    if directory.is_file() or (directory.is_dir() and any(directory.iterdir())):
        raise ManifestError(f"{directory} already exists and is not an empty folder; build into a new folder")
    directory.parent.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=f".{directory.name}.building-", dir=directory.parent))
    try:
        yield work
        if directory.is_dir():
            directory.rmdir()
        work.rename(directory)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _from_table(model: Any, table: Any, schema: TableSchema | None, target: str | None, text_column: str | None,
                task_type: str, classes: list | None) -> tuple[TableSchema, Any, str]:
    """The schema, its encoding of ``table`` with missing cells filled by column means (the rows
    the RKME sketches) and what the model takes (see :meth:`Learnware.build`); checks the model
    predicts on a few rows as it will be called (through its :class:`ModelAdapter`, so torch
    modules are checked too)."""
    raw_columns = getattr(model, "feature_names_in_", None)
    takes = "table" if raw_columns is not None and text_column is None else "features"
    if schema is None:
        columns = None if raw_columns is None else [str(c) for c in raw_columns]
        schema = TableSchema.infer(table, target=target, text_column=text_column, columns=columns)
    from modelreuse.models.tabular import impute_means

    encoded = schema.encode(table)
    X = impute_means(encoded)
    # as the model will be called: raw columns (missing cells kept), or the filled encoding
    probe = schema.decode(encoded[:PROBE_ROWS]) if takes == "table" else X[:PROBE_ROWS]
    try:
        predicted = len(as_model(model, task_type, classes).predict(probe))
    except Exception as exc:  # the developer's own model, in the developer's process
        what = "the table's raw columns" if takes == "table" else f"the {X.shape[1]} encoded features"
        raise SchemaError(f"the model cannot predict on {what} of its table schema: {type(exc).__name__}: {exc}. "
                          "Fit it on the table's columns (a Pipeline with a ColumnTransformer) or on "
                          "schema.encode(table)") from exc
    if predicted != len(probe):
        raise SchemaError(f"the model returned {predicted} predictions for {len(probe)} rows")
    return schema, X, takes


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


def fill_missing(X: Any, values: Any) -> Any:
    """``X`` with each NaN replaced by ``values`` of its column (``X`` itself when it has none)."""
    import numpy as np

    X = np.asarray(X, dtype=np.float64)
    missing = np.isnan(X)
    return np.where(missing, values[None, :], X) if missing.any() else X


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
