"""PAVE specification: the trained LoRA ``B`` of a shared pre-trained model, as a vector.

Paper: Tan et al., "A Study on PAVE Specification for Learnware" (the seed document
``002_d24d7a0b2bfb49e5``, sections 3-4, appendices B-D). A **model vector** fine-tunes a shared
pre-trained model ``f`` to fit a learnware's own predictions ``p(ŷ|x)`` on the developer's inputs
(equation 1); a **task vector** fits a user's few labelled rows. Only LoRA's ``B`` is trained, on
top of the shared seeded ``A`` of a :class:`~modelreuse.specs.pave_base.PAVEBase`, and
identification ranks learnwares by ``cos(B_task, B_model)``, which approximates
``cos(B_task A, B_model A)`` (Theorem 4: ``A A^T ≈ s I`` for Kaiming-uniform ``A``, so the two agree
to ``±2ε`` with high probability). Reference implementation checked against (LLM variant):
Learnware-LAMDA/Learnware, ``learnware/specification/regular/text/generative.py`` (one shared
adapter file, ``lora_A`` frozen, only ``lora_B`` trained, AdamW, optional L1 penalty on the change,
cosine similarity). The classification version's head and settings are not public; ours:

* **Base network and targets** (:mod:`modelreuse.specs.pave_base`): text, all-MiniLM-L6-v2 with
  LoRA (rank 16, alpha 32) on query/key/value of its top layer only (18,432 entries);
  images, EfficientNet-Lite0 with LoRA on the 1x1 convolutions of blocks 12-15, the head
  convolution and the classifier (124,544 entries), inputs resized to 96 px. Everything below the
  lowest target runs once per fit without gradients and is cached, so a training step costs one
  layer (text) or four small blocks (images): that is what meets the speed goals on two CPU cores.
* **Head** (:mod:`modelreuse.specs._pave_fit`): no trained head. Logits are
  ``5 * cos(z(x), mu_c)`` where ``z`` is the network's output (text: mean-pooled sentence
  embedding; images: ImageNet logits of the classifier) and ``mu_c`` is the ``p``-weighted mean
  of the party's own rows under the frozen base (class prototypes). Any label set works, class
  order does not matter, and no party needs label names.
* **Loss and optimiser**: cross-entropy to the soft predictions (model vector) or to one-hot
  labels (task vector); plain SGD from ``B = 0`` (lr 1, batch 32; 100 steps for a model vector,
  50 for a task vector), so ``B = -lr * sum of mini-batch gradients``, the accumulation of
  gradients section 3.2 (Lemma 1) reads the vector as. The reference's L1 penalty is available
  (``l1=``) and off by default.
* **Ablation** (SentEval CR, MR, MPQA, SUBJ, TREC; a logistic-regression learnware on MiniLM
  embeddings of 1,000 developer rows and a corrupted twin trained on permuted labels per dataset;
  task vectors from 16 shots per class; top-1 = the dataset's own good learnware has the highest
  cosine): Adam (lr 1e-3) with temperature 20: 3/5, a corrupted twin preferred on 1/5; Adam,
  temperature 5: 4/5 (1/5); Adam, temperature 5, label-name prototypes (the names embedded by
  MiniLM): 5/5 (0/5); SGD, temperature 20: 6/10 (1/10); SGD, temperature 5, class prototypes
  (the default): 9/10 (0/10; the miss is a CR task whose cosine with the MR learnware, also
  sentiment, is 0.171 against 0.166); SGD lr 10: 9/10 (1/10); one full-batch gradient at
  ``B = 0``: 7/10 (0/10). Images (MNIST subtasks 0v1, 2v3v4, 5v6, 7v8v9 and odd/even over all
  digits; 200 developer images, 16 shots per class): 5/5, no corrupted twin preferred, own cosine
  0.46-0.83 against at most 0.27 for any other learnware.

Fits are deterministic: the same inputs, seed and torch thread count give the same vector bit for
bit (batches come from seeded generators; no dropout; batch norm on running statistics). The
caller's ``torch.set_num_threads`` is used as set and the global torch generator is left untouched.

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
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from modelreuse._safeio import NpzMember, read_npz
from modelreuse.errors import InvalidTaskDataError, ModelPredictError, SchemaError, SpecError
from modelreuse.specs._pave_fit import fit_vector
from modelreuse.specs._pave_models import BASE_MODELS, MODALITY_OF, is_lora_able
from modelreuse.specs.base import SPEC_KINDS
from modelreuse.specs.pave_base import MAX_RANK, PAVEBase

ROLES = ("model", "task")
MAX_VECTOR = 4_000_000
MAX_TARGETS = 256
MAX_STEPS = 1_000_000
MAX_CLASSES = 100_000
MAX_SPEC_FILE_BYTES = 4 * MAX_VECTOR + 1024 * 1024
DEFAULT_K = 16
MODEL_STEPS = 100
TASK_STEPS = 50
BATCH_SIZE = 32
LR = 1.0
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
                   norm=l2_norm(stored), n_classes=int(n_classes))

    # ------------------------------------------------------------------ fitting
    @classmethod
    def fit_model(cls, model, X_dev, base: PAVEBase, *, encoder: str | Callable | None = None,
                  steps: int = MODEL_STEPS, seed: int = 0, batch_size: int = BATCH_SIZE, lr: float = LR,
                  l1: float = 0.0, dtype: str = "float32") -> PAVESpec:
        """The model vector of ``model`` (role ``"model"``): ``B`` fitted to the model's own soft
        predictions ``p(ŷ|x)`` on the developer's inputs ``X_dev`` (texts: a list of strings;
        images: uint8 ``(n, H, W)`` or ``(n, H, W, 3)``).

        ``model.predict_proba`` is called on ``encoder(X_dev)`` when ``encoder`` is a callable, on
        the base model's own frozen embeddings when ``encoder`` names the base model (the dock's
        encoders: MiniLM sentence embeddings, EfficientNet-Lite0 224-px pooled features), and on
        ``X_dev`` itself when ``encoder`` is ``None``.
        """
        fitter = _fitter(base)
        X_dev = fitter.check_inputs(X_dev, "X_dev")
        _check_steps(steps, batch_size, lr, l1)
        prepared = fitter.prepare(X_dev, base)
        P = _soft_labels(model, _model_inputs(fitter, X_dev, prepared, base, encoder), len(X_dev))
        vector = fit_vector(prepared, P, steps=steps, batch_size=batch_size, lr=lr, seed=seed, l1=l1)
        return cls.from_vector(vector, base, steps=steps, role="model", n_classes=P.shape[1], dtype=dtype)

    @classmethod
    def fit_task(cls, X_user, y_user, base: PAVEBase, *, k: int = DEFAULT_K, steps: int = TASK_STEPS,
                 seed: int = 0, batch_size: int = BATCH_SIZE, lr: float = LR, l1: float = 0.0,
                 dtype: str = "float32") -> PAVESpec:
        """The task vector of a user's labelled rows (role ``"task"``): ``B`` fitted to one-hot
        labels. Every class needs at least ``k`` rows (a seeded sample of ``k`` is used when it has
        more) and there must be two classes or more: :class:`InvalidTaskDataError` otherwise."""
        fitter = _fitter(base)
        X_user = fitter.check_inputs(X_user, "X_user")
        _check_steps(steps, batch_size, lr, l1)
        rows, P = _k_shot(y_user, len(X_user), k, seed)
        prepared = fitter.prepare(fitter.take(X_user, rows), base)
        vector = fit_vector(prepared, P, steps=steps, batch_size=batch_size, lr=lr, seed=seed, l1=l1)
        return cls.from_vector(vector, base, steps=steps, role="task", n_classes=P.shape[1], dtype=dtype)

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


def _fitter(base: PAVEBase):
    if not isinstance(base, PAVEBase):
        raise SpecError(f"base must be a PAVEBase (the dock's Dock.pave_base(modality)), got {type(base).__name__}")
    if base.modality == "text":
        from modelreuse.specs import _pave_text

        return _pave_text
    from modelreuse.specs import _pave_image

    return _pave_image


def _check_steps(steps: int, batch_size: int, lr: float, l1: float) -> None:
    for name, value in (("steps", steps), ("batch_size", batch_size)):
        if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_STEPS:
            raise InvalidTaskDataError(f"{name} must be an integer in [1, {MAX_STEPS}], got {value!r}")
    if not (np.isfinite(lr) and lr > 0 and np.isfinite(l1) and l1 >= 0):
        raise InvalidTaskDataError(f"lr must be > 0 and l1 >= 0 (finite), got lr={lr!r}, l1={l1!r}")


def _model_inputs(fitter, X, prepared, base: PAVEBase, encoder):
    if encoder is None:
        return X
    if callable(encoder):
        return encoder(X)
    if encoder == base.base_model:
        return fitter.encoder_features(X, prepared)
    raise InvalidTaskDataError(f"encoder must be None, a callable or {base.base_model!r}, got {encoder!r}")


def _soft_labels(model, inputs, n: int) -> np.ndarray:
    """``(n, C)`` rows of ``model.predict_proba(inputs)``, checked and renormalised."""
    if not callable(getattr(model, "predict_proba", None)):
        raise ModelPredictError(f"a model vector needs a classifier with predict_proba; {type(model).__name__} has none")
    try:
        P = np.asarray(model.predict_proba(inputs), dtype=np.float64)
    except (ValueError, TypeError) as exc:
        raise ModelPredictError(f"predict_proba failed on the developer inputs: {exc}") from exc
    if P.ndim != 2 or P.shape[0] != n or not 2 <= P.shape[1] <= MAX_CLASSES:
        raise SchemaError(f"predict_proba must return ({n}, C >= 2) probabilities, got shape {P.shape}")
    if not np.isfinite(P).all() or (P < 0).any() or (P.sum(axis=1) <= 0).any():
        raise SchemaError("predict_proba returned NaN, inf, negative values or an all-zero row")
    return P / P.sum(axis=1, keepdims=True)


def _k_shot(y, n: int, k: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """``(row indices, one-hot labels)``: ``k`` seeded rows of every class (rules of :meth:`PAVESpec.fit_task`)."""
    if isinstance(k, bool) or not isinstance(k, int) or k < 1:
        raise InvalidTaskDataError(f"k must be a positive integer, got {k!r}")
    y = np.asarray(y)
    if y.ndim != 1 or len(y) != n:
        raise InvalidTaskDataError(f"y_user must be 1-d with one label per row ({n}), got shape {y.shape}")
    if y.dtype.kind == "f" and not np.isfinite(y).all():
        raise InvalidTaskDataError("y_user has NaN or infinite labels; drop those rows")
    if y.dtype.kind not in "iufUSbO":
        raise InvalidTaskDataError(f"y_user must hold class labels, got dtype {y.dtype}")
    classes, codes, counts = np.unique(y.astype(str) if y.dtype.kind == "O" else y, return_inverse=True, return_counts=True)
    if len(classes) < 2:
        raise InvalidTaskDataError(f"a task vector needs at least two classes; y_user has {len(classes)}")
    if counts.min() < k:
        short = [str(c) for c, m in zip(classes, counts) if m < k][:5]
        raise InvalidTaskDataError(f"class(es) {short} have fewer than k = {k} rows; give k rows per class or lower k")
    rng = np.random.default_rng(seed)
    rows = np.sort(np.concatenate([rng.choice(np.flatnonzero(codes == c), k, replace=False) for c in range(len(classes))]))
    return rows, np.eye(len(classes))[codes[rows]]


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


def l2_norm(vector: np.ndarray) -> float:
    """``sqrt(sum(v_i^2))`` in float64 with numpy ufuncs rather than BLAS: a BLAS dot product of
    one long vector starts its thread pool, and on a busy machine the threads' hand-off cost 20 ms
    a vector (submitting or indexing 200 specs spent 16 s there) against 0.2 ms here."""
    return float(np.sqrt(np.sum(np.square(vector, dtype=np.float64))))


def _vector_problems(spec: PAVESpec) -> list[str]:
    v = spec.vector
    if not isinstance(v, np.ndarray) or v.dtype not in (np.float32, np.float16) or v.ndim != 1:
        return ["vector must be a 1-d float32 or float16 array"]
    if not len(spec.targets) * spec.rank <= len(v) <= MAX_VECTOR or len(v) % spec.rank:
        return [f"vector length {len(v)} is not a multiple of rank {spec.rank} with at least one row per target"]
    if not np.isfinite(v).all():
        return ["vector has NaN or infinite entries"]
    actual = l2_norm(v)
    if actual == 0.0:
        return ["vector is all zero (no direction to compare)"]
    if not isinstance(spec.norm, float) or not np.isfinite(spec.norm) or abs(spec.norm - actual) > _NORM_RTOL * actual:
        return [f"norm {spec.norm!r} does not match the vector's L2 norm {actual:.6g}"]
    return []
