"""The learnware package: model artifact + specifications + card, as a directory or zip.

Layout::

    manifest.json        validated by :class:`Manifest`
    model.<ext>          the artifact (see modelreuse.models.persistence)
    specs/rkme.npz       one file per specification listed in the manifest
    specs/semantic.json
    specs/records.json   optional: leaderboard results (modelreuse.specs.records)

Reading a package never runs code from it: zips are checked for escaping paths and links
before extraction, the manifest is validated, and the model is only loaded on request,
through :func:`modelreuse.models.load_model` (pickle needs ``trust=True``).
"""

from __future__ import annotations

import json
import shutil
import stat
import tempfile
import zipfile
from pathlib import Path, PurePosixPath
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from modelreuse.errors import ManifestError, UnsafeArchiveError
from modelreuse.models.adapters import ModelAdapter
from modelreuse.models.persistence import ARTIFACT_FORMATS, load_model, save_model
from modelreuse.specs.base import Specification, load_spec
from modelreuse.specs.records import RecordsSpec
from modelreuse.specs.rkme import RKMESpec
from modelreuse.specs.semantic import SemanticSpec

MANIFEST_VERSION = 1
MAX_ZIP_BYTES = 4 * 1024**3
MAX_ZIP_FILES = 10_000


class InputSchema(BaseModel):
    """What the model takes: a float matrix of ``n_features`` columns.

    ``encoder`` names the frozen encoder that maps raw text/images to those features
    (e.g. ``"all-MiniLM-L6-v2"``); ``None`` for tabular features used as they are.
    """

    model_config = ConfigDict(extra="forbid")
    n_features: int = Field(gt=0)
    feature_names: list[str] | None = None
    encoder: str | None = None

    @model_validator(mode="after")
    def _names_match(self) -> "InputSchema":
        if self.feature_names is not None and len(self.feature_names) != self.n_features:
            raise ValueError(f"{len(self.feature_names)} feature_names for n_features={self.n_features}")
        return self


class OutputSchema(BaseModel):
    """Class labels (classification) or the target's name (regression)."""

    model_config = ConfigDict(extra="forbid")
    classes: list[int | str] | None = None
    target: str | None = None


class SpecEntry(BaseModel):
    model_config = ConfigDict(extra="forbid")
    kind: str
    file: str

    @field_validator("file")
    @classmethod
    def _inside_specs(cls, value: str) -> str:
        p = PurePosixPath(value)
        if p.is_absolute() or ".." in p.parts or not value.startswith("specs/"):
            raise ValueError(f"spec file {value!r} must be a relative path under specs/")
        return value


class Artifact(BaseModel):
    model_config = ConfigDict(extra="forbid")
    format: Literal[ARTIFACT_FORMATS]  # type: ignore[valid-type]
    file: str
    architecture: dict[str, Any] | None = None

    @field_validator("file")
    @classmethod
    def _plain_name(cls, value: str) -> str:
        if "/" in value or "\\" in value or value in ("", ".", ".."):
            raise ValueError(f"artifact file {value!r} must be a plain file name at the package root")
        return value


class Manifest(BaseModel):
    """The validated ``manifest.json`` of a learnware."""

    model_config = ConfigDict(extra="forbid")
    manifest_version: int = MANIFEST_VERSION
    name: str = Field(min_length=1, max_length=200)
    description: str = ""
    tags: list[str] = Field(default_factory=list)
    task_type: Literal["classification", "regression"]
    modality: Literal["tabular", "text", "image"]
    input_schema: InputSchema
    output: OutputSchema
    licence: str = "unspecified"
    owner: str = "unknown"
    specs: list[SpecEntry]
    artifact: Artifact
    versions: dict[str, str] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _consistent(self) -> "Manifest":
        if self.task_type == "classification" and (not self.output.classes or len(self.output.classes) < 2):
            raise ValueError("classification learnwares must list at least 2 output.classes")
        if self.task_type == "regression" and not self.output.target:
            raise ValueError("regression learnwares must name output.target")
        kinds = [s.kind for s in self.specs]
        if len(set(kinds)) != len(kinds):
            raise ValueError(f"duplicate spec kinds: {kinds}")
        if "rkme" not in kinds:
            raise ValueError("a learnware needs an 'rkme' spec (statistical search and reuse use it)")
        return self

    @classmethod
    def parse(cls, data: Any) -> "Manifest":
        """Validate ``data`` (a dict) or raise :class:`ManifestError` listing every problem."""
        try:
            return cls.model_validate(data)
        except ValidationError as exc:
            problems = "; ".join(f"{'.'.join(map(str, e['loc'])) or 'manifest'}: {e['msg']}" for e in exc.errors())
            raise ManifestError(f"invalid manifest: {problems}") from None


class Learnware:
    """A learnware on disk: a validated manifest plus its directory.

    Use :meth:`build` to create one from a fitted model, :meth:`open` to read one.
    """

    def __init__(self, manifest: Manifest, root: Path, learnware_id: str | None = None):
        self.manifest = manifest
        self.root = Path(root)
        self.id = learnware_id
        self._specs: dict[str, Specification] = {}

    # ---------------------------------------------------------------- create
    @classmethod
    def build(
        cls,
        directory: str | Path,
        model: Any,
        rkme: RKMESpec,
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
        licence: str = "unspecified",
        owner: str = "unknown",
        fmt: str | None = None,
        architecture: dict | None = None,
        records: RecordsSpec | None = None,
    ) -> "Learnware":
        """Write a new learnware package into ``directory`` (created) and return it.

        ``records`` optionally attaches the model's leaderboard results (a ``records`` spec), which
        recommenders use (:meth:`modelreuse.dock.Dock.recommend`).
        """
        root = Path(directory)
        (root / "specs").mkdir(parents=True, exist_ok=True)
        artifact = save_model(model, root, fmt=fmt, architecture=architecture)
        semantic = SemanticSpec(name=name, description=description, tags=list(tags or []),
                                task_type=task_type, modality=modality)
        rkme.save(root / "specs" / "rkme.npz")
        semantic.save(root / "specs" / "semantic.json")
        specs = [{"kind": "rkme", "file": "specs/rkme.npz"}, {"kind": "semantic", "file": "specs/semantic.json"}]
        if records is not None:
            records.save(root / "specs" / "records.json")
            specs.append({"kind": "records", "file": "specs/records.json"})
        data = {
            "name": name, "description": description, "tags": list(tags or []),
            "task_type": task_type, "modality": modality,
            "input_schema": {"n_features": rkme.n_features, "feature_names": feature_names, "encoder": encoder},
            "output": {"classes": _plain(classes), "target": target},
            "licence": licence, "owner": owner,
            "specs": specs,
            "artifact": artifact, "versions": _versions(),
        }
        manifest = Manifest.parse(data)
        (root / "manifest.json").write_text(manifest.model_dump_json(indent=2))
        return cls(manifest, root)

    # ---------------------------------------------------------------- read
    @classmethod
    def open(cls, path: str | Path, extract_to: str | Path | None = None) -> "Learnware":
        """Open a package directory or zip. Zips are checked, then extracted to ``extract_to``
        (default: a new temporary directory)."""
        path = Path(path)
        if path.is_file() and zipfile.is_zipfile(path):
            target = Path(extract_to) if extract_to else Path(tempfile.mkdtemp(prefix="learnware-"))
            safe_extract(path, target)
            path = target
        manifest_path = path / "manifest.json"
        if not manifest_path.is_file():
            raise ManifestError(f"{path} has no manifest.json; is it a learnware directory or zip?")
        try:
            data = json.loads(manifest_path.read_text())
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise ManifestError(f"manifest.json is not valid JSON: {exc}") from None
        manifest = Manifest.parse(data)
        for entry in [*(s.file for s in manifest.specs), manifest.artifact.file]:
            if not (path / entry).is_file():
                raise ManifestError(f"manifest lists {entry!r} but the package has no such file")
        return cls(manifest, path)

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
        return self.spec("rkme")  # type: ignore[return-value]

    @property
    def records(self) -> RecordsSpec | None:
        """The leaderboard results attached to this learnware, or None."""
        has = any(s.kind == "records" for s in self.manifest.specs)
        return self.spec("records") if has else None  # type: ignore[return-value]

    def load_specs(self) -> None:
        """Load every listed spec, so a malformed one raises :class:`SpecError` now."""
        for entry in self.manifest.specs:
            self.spec(entry.kind)

    def load_model(self, trust: bool = False) -> ModelAdapter:
        """Load the model artifact behind the prediction protocol (no code runs without trust)."""
        m = self.manifest
        raw = load_model(self.root, m.artifact.model_dump(), trust=trust)
        return ModelAdapter(raw, m.task_type, m.output.classes)

    def to_zip(self, path: str | Path) -> Path:
        """Write the package as a zip with sorted entries (byte-identical for equal content)."""
        path = Path(path)
        files = sorted(p for p in self.root.rglob("*") if p.is_file())
        with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as zf:
            for f in files:
                info = zipfile.ZipInfo(f.relative_to(self.root).as_posix(), date_time=(1980, 1, 1, 0, 0, 0))
                info.external_attr = 0o644 << 16
                zf.writestr(info, f.read_bytes(), compress_type=zipfile.ZIP_DEFLATED)
        return path


def safe_extract(zip_path: Path, target: Path) -> None:
    """Extract ``zip_path`` into ``target`` after rejecting absolute or ``..`` paths, links and
    zip bombs. Raises :class:`UnsafeArchiveError` and extracts nothing on any problem."""
    with zipfile.ZipFile(zip_path) as zf:
        infos = zf.infolist()
        if len(infos) > MAX_ZIP_FILES:
            raise UnsafeArchiveError(f"zip has {len(infos)} entries (limit {MAX_ZIP_FILES})")
        if sum(i.file_size for i in infos) > MAX_ZIP_BYTES:
            raise UnsafeArchiveError(f"zip unpacks to more than {MAX_ZIP_BYTES} bytes")
        for info in infos:
            name = PurePosixPath(info.filename.replace("\\", "/"))
            if name.is_absolute() or ".." in name.parts or (name.parts and ":" in name.parts[0]):
                raise UnsafeArchiveError(f"zip entry {info.filename!r} escapes the package root")
            if stat.S_ISLNK(info.external_attr >> 16):
                raise UnsafeArchiveError(f"zip entry {info.filename!r} is a symbolic link")
        target.mkdir(parents=True, exist_ok=True)
        for info in infos:
            dest = target / info.filename
            if info.is_dir():
                dest.mkdir(parents=True, exist_ok=True)
                continue
            dest.parent.mkdir(parents=True, exist_ok=True)
            with zf.open(info) as src, open(dest, "wb") as out:
                shutil.copyfileobj(src, out)


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

    from modelreuse import __version__

    return {"modelreuse": __version__, "numpy": numpy.__version__, "scikit-learn": sklearn.__version__}
