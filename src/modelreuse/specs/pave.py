"""PAVE specification: the trained LoRA ``B`` of a shared pre-trained model, as a vector.

Paper: Tan et al., "A Study on PAVE Specification for Learnware" (the seed document
``002_d24d7a0b2bfb49e5``, sections 3-4, appendices B-D). A **model vector** fine-tunes a shared
pre-trained model ``f`` to fit a learnware's own predictions ``p(ŷ|x)`` on the developer's inputs
(equation 1); a **task vector** fits a user's few labelled rows. Only LoRA's ``B`` is trained, on
top of the shared seeded ``A`` of a :class:`~modelreuse.specs.pave_base.PAVEBase`, and
identification ranks learnwares by ``cos(B_task, B_model)``, which approximates
``cos(B_task A, B_model A)`` (Theorem 4: ``A A^T ≈ s I`` for Kaiming-uniform ``A``). Reference
implementation checked against (LLM variant): Learnware-LAMDA/Learnware,
``learnware/specification/regular/text/generative.py`` (shared adapter file, ``lora_A`` frozen,
``lora_B`` trained, AdamW, L1 penalty on the change, cosine similarity).

The spec stores the base adapter's id, base model, modality, rank, targets, the number of
training steps, its role (``"model"`` / ``"task"``), the number of classes fitted and the vector
(the flattened ``B`` matrices in ``targets`` order, float32 or float16) with its L2 norm.
Specs are comparable only on the same base (id, rank and targets): :meth:`PAVESpec.cosine`
raises :class:`~modelreuse.errors.SpecError` otherwise.

File format (``.npz``, read with ``allow_pickle=False`` through :func:`modelreuse._safeio.read_npz`,
every ``.npy`` header checked before its data is read): ``vector`` (1-d float32/float16, at most
``MAX_VECTOR`` entries), ``norm`` (float64 scalar, equal to the vector's norm to 1e-3
relative), integer scalars ``rank``, ``steps``, ``n_classes``, and unicode ``base_id`` (64 hex
digits), ``base_model``, ``modality``, ``role`` and ``targets`` (1-d). NaN/inf, a zero norm,
unknown targets, a vector whose length is not a multiple of the rank: :class:`SpecError`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from modelreuse._safeio import NpzMember, read_npz
from modelreuse.errors import SpecError
from modelreuse.specs._pave_models import BASE_MODELS, MODALITY_OF, is_lora_able
from modelreuse.specs.base import SPEC_KINDS
from modelreuse.specs.pave_base import MAX_RANK, PAVEBase

ROLES = ("model", "task")
MAX_VECTOR = 4_000_000
MAX_TARGETS = 256
MAX_STEPS = 1_000_000
MAX_CLASSES = 100_000
MAX_SPEC_FILE_BYTES = 4 * MAX_VECTOR + 1024 * 1024
_HEX64 = re.compile(r"[0-9a-f]{64}")
_NORM_RTOL = 1e-3

_NPZ_MEMBERS = {
    "vector": NpzMember("f", 1, MAX_VECTOR),
    "norm": NpzMember("f", 0, 1),
    "rank": NpzMember("iu", 0, 1),
    "steps": NpzMember("iu", 0, 1),
    "n_classes": NpzMember("iu", 0, 1),
    "base_id": NpzMember("U", 0, 1),
    "base_model": NpzMember("U", 0, 1),
    "modality": NpzMember("U", 0, 1),
    "role": NpzMember("U", 0, 1),
    "targets": NpzMember("U", 1, MAX_TARGETS),
}


@SPEC_KINDS.register("pave", file_suffix=".npz")
@dataclass(eq=False)
class PAVESpec:
    """A PAVE model vector or task vector (module doc)."""

    base_id: str
    base_model: str
    modality: str
    rank: int
    targets: tuple[str, ...]
    steps: int
    role: str
    vector: np.ndarray
    norm: float
    n_classes: int

    def __post_init__(self) -> None:
        problems = _field_problems(self) or _vector_problems(self)
        if problems:
            raise SpecError("invalid PAVE spec: " + "; ".join(problems)
                            + ". Refit it with PAVESpec.fit_model / PAVESpec.fit_task on the dock's base adapter.")

    @classmethod
    def from_vector(cls, vector: np.ndarray, base: PAVEBase, *, steps: int, role: str, n_classes: int,
                    dtype: str = "float32") -> PAVESpec:
        """The spec of trained ``B`` entries ``vector`` (``targets`` order) on ``base``."""
        vector = np.asarray(vector, dtype=np.float64).ravel()
        if vector.shape != (base.vector_length,):
            raise SpecError(f"a vector on this base has {base.vector_length} entries, got {vector.shape}")
        stored = vector.astype(dtype)
        return cls(base_id=base.id, base_model=base.base_model, modality=base.modality, rank=base.rank,
                   targets=tuple(base.targets), steps=int(steps), role=role, vector=stored,
                   norm=float(np.linalg.norm(stored.astype(np.float64))), n_classes=int(n_classes))

    # ------------------------------------------------------------------ comparison
    def embedding(self) -> np.ndarray:
        """The unit-norm float32 vector (an inner product of two is their cosine)."""
        return (self.vector.astype(np.float64) / self.norm).astype(np.float32)

    def comparable_problem(self, other: PAVESpec) -> str | None:
        """Why ``other`` cannot be compared with this spec, or ``None`` if it can."""
        if not isinstance(other, PAVESpec):
            return f"a PAVE spec compares only with a PAVE spec, got {type(other).__name__}"
        if other.base_id != self.base_id:
            return f"specs on different base adapters ({self.base_id[:12]} vs {other.base_id[:12]})"
        if other.rank != self.rank or other.targets != self.targets or other.vector.shape != self.vector.shape:
            return "specs with different rank, targets or vector length"
        return None

    def cosine(self, other: PAVESpec) -> float:
        """``cos(B_self, B_other)``; :class:`SpecError` unless both are on the same base."""
        problem = self.comparable_problem(other)
        if problem is not None:
            raise SpecError(f"cannot compare PAVE specs: {problem}; build both on the dock's base adapter")
        return float(np.dot(self.vector.astype(np.float64), other.vector.astype(np.float64)) / (self.norm * other.norm))

    def check_base(self, base: PAVEBase) -> None:
        """:class:`SpecError` unless this spec was built on ``base``."""
        if self.base_id != base.id or self.vector.shape != (base.vector_length,):
            raise SpecError(f"this PAVE spec was built on base adapter {self.base_id[:12]}, not on {base.id[:12]} "
                            f"({base.base_model}, rank {base.rank}); refit it on the dock's base")

    # ------------------------------------------------------------------ io
    def save(self, path: str | Path) -> None:
        with open(path, "wb") as f:
            np.savez(f, vector=self.vector, norm=np.float64(self.norm), rank=np.int64(self.rank),
                     steps=np.int64(self.steps), n_classes=np.int64(self.n_classes), base_id=np.str_(self.base_id),
                     base_model=np.str_(self.base_model), modality=np.str_(self.modality), role=np.str_(self.role),
                     targets=np.array(self.targets, dtype=str))

    @classmethod
    def load(cls, path: str | Path) -> PAVESpec:
        """Read a spec written by :meth:`save` with the checks of the module doc."""
        a = read_npz(path, _NPZ_MEMBERS, SpecError, max_bytes=MAX_SPEC_FILE_BYTES)
        return cls(base_id=str(a["base_id"]), base_model=str(a["base_model"]), modality=str(a["modality"]),
                   rank=int(a["rank"]), targets=tuple(str(t) for t in a["targets"]), steps=int(a["steps"]),
                   role=str(a["role"]), vector=a["vector"], norm=float(a["norm"]), n_classes=int(a["n_classes"]))


def _field_problems(spec: PAVESpec) -> list[str]:
    """Types and ranges of everything but the vector."""
    problems = []
    if not isinstance(spec.base_id, str) or not _HEX64.fullmatch(spec.base_id):
        problems.append("base_id must be 64 lower-case hex digits")
    if spec.base_model not in MODALITY_OF or spec.modality != MODALITY_OF[spec.base_model]:
        problems.append(f"base_model/modality must be one of {sorted(BASE_MODELS.items())}")
    elif not isinstance(spec.targets, tuple) or not 1 <= len(spec.targets) <= MAX_TARGETS \
            or len(set(spec.targets)) != len(spec.targets) or not all(is_lora_able(spec.base_model, t) for t in spec.targets):
        problems.append(f"targets must be distinct LoRA-able modules of {spec.base_model}")
    if spec.role not in ROLES:
        problems.append(f"role must be one of {ROLES}")
    for name, value, top in (("rank", spec.rank, MAX_RANK), ("steps", spec.steps, MAX_STEPS),
                             ("n_classes", spec.n_classes, MAX_CLASSES)):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or not 1 <= value <= top:
            problems.append(f"{name} must be an integer in [1, {top}]")
    return problems


def _vector_problems(spec: PAVESpec) -> list[str]:
    v = spec.vector
    if not isinstance(v, np.ndarray) or v.dtype not in (np.float32, np.float16) or v.ndim != 1:
        return ["vector must be a 1-d float32 or float16 array"]
    if not len(spec.targets) * spec.rank <= len(v) <= MAX_VECTOR or len(v) % spec.rank:
        return [f"vector length {len(v)} is not a multiple of rank {spec.rank} with at least one row per target"]
    if not np.isfinite(v).all():
        return ["vector has NaN or infinite entries"]
    actual = float(np.linalg.norm(v.astype(np.float64)))
    if actual == 0.0:
        return ["vector is all zero (no direction to compare)"]
    if not isinstance(spec.norm, float) or not np.isfinite(spec.norm) or abs(spec.norm - actual) > _NORM_RTOL * actual:
        return [f"norm {spec.norm!r} does not match the vector's L2 norm {actual:.6g}"]
    return []
