"""The shared base adapter of PAVE: one seeded LoRA ``A`` per target module, ``B = 0``.

PAVE (Tan et al., "A Study on PAVE Specification for Learnware", section 3.3 and appendix B)
compares parameter vectors by ``cos(B1, B2)`` instead of ``cos(B1 A, B2 A)``: when every party
fine-tunes only ``B`` on top of the *same* random ``A`` drawn element-wise from
``U(-sqrt(3s/n), +sqrt(3s/n))`` (Kaiming uniform), ``A A^T ≈ s I`` and the two cosines agree up to
``±2ε`` with high probability (Theorem 4). So every developer and user of a dock loads one
:class:`PAVEBase`; its :attr:`~PAVEBase.id` goes into every spec and specs on different bases are
never compared. The public reference implementation (Learnware-LAMDA/Learnware,
``learnware/specification/regular/text/generative.py``) does the same for its LLM variant: one
shared adapter file every party loads, ``lora_A`` frozen, only ``lora_B`` trained.

Design choices:

* ``A`` is drawn with NumPy's PCG64 seeded by ``(seed, SHA-256 of the target name)``, bound
  ``1/sqrt(fan_in)`` (peft's ``kaiming_uniform_(a=sqrt(5))``; ``s = 1/3`` in the paper's terms), so
  :meth:`PAVEBase.create` gives the same bytes on every platform and torch version.
* ``lora_alpha = 2 * rank`` (the reference's r = 16, alpha = 32), dropout 0 (the fit is then a
  deterministic function of its inputs and seed; the reference's 0.1 only adds noise to a
  direction we compare).
* Default targets (speed on two CPU cores, see :mod:`modelreuse.specs.pave`): text, the
  query/key/value projections of MiniLM's top ``TEXT_LAYERS``; image, the 1x1 convolutions of
  EfficientNet-Lite0's top ``IMAGE_BLOCKS`` blocks, its head convolution and its classifier.

Files (peft's own adapter format, nothing executable): ``adapter_config.json`` (a LoRA config
peft reads) and ``adapter_model.safetensors`` (``base_model.model.<target>.lora_A.weight`` and the
zero ``lora_B.weight``; the safetensors metadata records modality and seed). :meth:`PAVEBase.load`
never unpickles; it reads at most ``MAX_BASE_BYTES``, requires exactly the config keys written by
:meth:`PAVEBase.save`, targets that are LoRA-able modules of the named base model, every tensor
float32 with the shape that module and the rank give, finite non-zero ``A`` and all-zero ``B``,
and raises :class:`~modelreuse.errors.SpecError` otherwise.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from modelreuse._safeio import read_json
from modelreuse.errors import SpecError
from modelreuse.specs._pave_models import BASE_MODELS, HUB_NAMES, MODALITY_OF, is_lora_able, lora_shapes

CONFIG_FILE = "adapter_config.json"
WEIGHTS_FILE = "adapter_model.safetensors"
MAX_RANK = 64
MAX_BASE_BYTES = 64 * 1024 * 1024
TEXT_LAYERS = (5,)
IMAGE_BLOCKS = range(12, 16)
_PREFIX = "base_model.model."
_CONFIG_KEYS = {"peft_type", "base_model_name_or_path", "r", "lora_alpha", "lora_dropout", "target_modules",
                "bias", "fan_in_fan_out", "init_lora_weights", "task_type", "inference_mode"}


def default_targets(modality: str) -> tuple[str, ...]:
    """The LoRA targets :meth:`PAVEBase.create` uses for ``modality`` (module doc)."""
    if modality == "text":
        return tuple(f"encoder.layer.{i}.attention.self.{p}" for i in TEXT_LAYERS for p in ("query", "key", "value"))
    if modality == "image":
        return (*(f"_blocks.{i}._{c}_conv" for i in IMAGE_BLOCKS for c in ("expand", "project")), "_conv_head", "_fc")
    raise SpecError(f"PAVE modality must be one of {sorted(BASE_MODELS)}, got {modality!r}")


@dataclass(frozen=True, eq=False)
class PAVEBase:
    """A shared base adapter: the frozen ``A`` of every target (module doc).

    Attributes:
        base_model: ``"all-MiniLM-L6-v2"`` or ``"efficientnet-lite0"``.
        rank: LoRA rank ``r``.
        targets: LoRA target module names, in the order of every spec vector.
        lora_A: target -> float32 ``A`` in peft's layout (``(r, in)``; ``(r, in, 1, 1)`` for a conv).
        seed: the seed ``A`` was drawn with (informational; :attr:`id` hashes the tensors).
    """

    base_model: str
    rank: int
    targets: tuple[str, ...]
    lora_A: dict[str, np.ndarray] = field(repr=False)
    seed: int = 0

    def __post_init__(self) -> None:
        problems = _structure_problems(self.base_model, self.rank, self.targets)
        if not problems:
            problems = [p for t in self.targets for p in _tensor_problems(self, t)]
        if problems:
            raise SpecError("invalid PAVE base adapter: " + "; ".join(problems[:5])
                            + ". Get the dock's base with Dock.pave_base(modality) or PAVEBase.create.")

    # ------------------------------------------------------------------ building
    @classmethod
    def create(cls, modality: str, rank: int = 16, seed: int = 0) -> PAVEBase:
        """A new base for ``modality`` with seeded Kaiming-uniform ``A`` (module doc)."""
        targets = default_targets(modality)
        base_model = BASE_MODELS[modality]
        if isinstance(rank, bool) or not isinstance(rank, int) or not 1 <= rank <= MAX_RANK:
            raise SpecError(f"PAVE rank must be an integer in [1, {MAX_RANK}], got {rank!r}")
        lora_A = {t: _kaiming_uniform(lora_shapes(base_model, t, rank)[0], seed, t) for t in targets}
        return cls(base_model=base_model, rank=rank, targets=targets, lora_A=lora_A, seed=int(seed))

    # ------------------------------------------------------------------ attributes
    @property
    def modality(self) -> str:
        return MODALITY_OF[self.base_model]

    @property
    def alpha(self) -> int:
        """peft's ``lora_alpha`` (scaling ``alpha / r = 2``)."""
        return _peft_config(self.base_model, self.rank, self.targets)["lora_alpha"]

    @property
    def b_shapes(self) -> dict[str, tuple[int, ...]]:
        """target -> shape of its ``B`` (peft's layout)."""
        return {t: lora_shapes(self.base_model, t, self.rank)[1] for t in self.targets}

    @property
    def vector_length(self) -> int:
        """Number of ``B`` entries: the length of every spec vector on this base."""
        return sum(int(np.prod(s)) for s in self.b_shapes.values())

    @property
    def id(self) -> str:
        """Hex SHA-256 over the canonical config (model, rank, alpha, targets) and the ``A`` bytes."""
        digest = hashlib.sha256(json.dumps([self.base_model, self.rank, self.alpha, list(self.targets)]).encode())
        for target in self.targets:
            digest.update(target.encode() + b"\0")
            digest.update(np.ascontiguousarray(self.lora_A[target], dtype="<f4").tobytes())
        return digest.hexdigest()

    def full_update(self, vector: np.ndarray) -> np.ndarray:
        """The weight change ``(alpha / r) * B A`` of every target, flattened in ``targets`` order,
        of a spec vector on this base: the ``cos(BA)`` side of Theorem 4 (for checking the
        approximation; the spec itself stores only ``B``)."""
        vector = np.asarray(vector, dtype=np.float64).ravel()
        if vector.shape != (self.vector_length,):
            raise SpecError(f"a vector on this base has {self.vector_length} entries, got {vector.shape}")
        parts, start = [], 0
        for target, shape in self.b_shapes.items():
            b = vector[start : start + shape[0] * self.rank].reshape(shape[0], self.rank)
            a = self.lora_A[target].reshape(self.rank, -1).astype(np.float64)
            parts.append((self.alpha / self.rank) * (b @ a).ravel())
            start += shape[0] * self.rank
        return np.concatenate(parts)

    # ------------------------------------------------------------------ files
    def peft_config(self) -> dict:
        """The ``adapter_config.json`` content: a LoRA config peft's ``LoraConfig`` reads."""
        return _peft_config(self.base_model, self.rank, self.targets)

    def save(self, folder: str | Path) -> None:
        """Write ``adapter_config.json`` and ``adapter_model.safetensors`` into ``folder``."""
        from safetensors.numpy import save_file

        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        tensors = {}
        for target, b_shape in self.b_shapes.items():
            tensors[f"{_PREFIX}{target}.lora_A.weight"] = np.ascontiguousarray(self.lora_A[target], dtype=np.float32)
            tensors[f"{_PREFIX}{target}.lora_B.weight"] = np.zeros(b_shape, dtype=np.float32)
        save_file(tensors, str(folder / WEIGHTS_FILE),
                  metadata={"format": "pt", "modality": self.modality, "seed": str(self.seed)})
        (folder / CONFIG_FILE).write_text(json.dumps(self.peft_config(), indent=2))

    @classmethod
    def load(cls, folder: str | Path) -> PAVEBase:
        """Read and validate a base written by :meth:`save` (module doc); :class:`SpecError` if not."""
        folder = Path(folder)
        config = read_json(folder / CONFIG_FILE, SpecError)
        base_model, rank, targets = _parse_config(config)
        tensors, metadata = _read_safetensors(folder / WEIGHTS_FILE)
        expected = {f"{_PREFIX}{t}.lora_{m}.weight" for t in targets for m in "AB"}
        if set(tensors) != expected:
            odd = sorted(set(tensors) ^ expected)[:3]
            raise SpecError(f"{WEIGHTS_FILE} must hold exactly lora_A/lora_B of the configured targets; differs at {odd}")
        base = cls(base_model=base_model, rank=rank, targets=targets,
                   lora_A={t: tensors[f"{_PREFIX}{t}.lora_A.weight"] for t in targets}, seed=_seed_of(metadata))
        for target, b_shape in base.b_shapes.items():
            b = tensors[f"{_PREFIX}{target}.lora_B.weight"]
            if b.dtype != np.float32 or b.shape != b_shape or np.any(b != 0):
                raise SpecError(f"{WEIGHTS_FILE}: lora_B of {target} must be float32 zeros of shape {b_shape}")
        return base


def _kaiming_uniform(shape: tuple[int, ...], seed: int, target: str) -> np.ndarray:
    """U(-1/sqrt(fan_in), 1/sqrt(fan_in)), seeded by ``seed`` and the target's name."""
    name_key = int.from_bytes(hashlib.sha256(target.encode()).digest()[:8], "little")
    rng = np.random.Generator(np.random.PCG64([int(seed), name_key]))
    bound = 1.0 / np.sqrt(int(np.prod(shape[1:])))
    return rng.uniform(-bound, bound, size=shape).astype(np.float32)


def _structure_problems(base_model: object, rank: object, targets: object) -> list[str]:
    if base_model not in MODALITY_OF:
        return [f"base_model must be one of {sorted(MODALITY_OF)}, got {str(base_model)[:80]!r}"]
    if isinstance(rank, bool) or not isinstance(rank, int) or not 1 <= rank <= MAX_RANK:
        return [f"rank must be an integer in [1, {MAX_RANK}], got {str(rank)[:20]!r}"]
    if not isinstance(targets, tuple) or not targets or len(set(targets)) != len(targets):
        return ["targets must be a non-empty tuple of distinct module names"]
    bad = [t for t in targets if not is_lora_able(base_model, t)]
    return [f"targets {[str(t)[:80] for t in bad[:3]]} are not LoRA-able modules of {base_model}"] if bad else []


def _tensor_problems(base: PAVEBase, target: str) -> list[str]:
    a = base.lora_A.get(target) if isinstance(base.lora_A, dict) else None
    shape = lora_shapes(base.base_model, target, base.rank)[0]
    if not isinstance(a, np.ndarray) or a.dtype != np.float32 or a.shape != shape:
        return [f"lora_A of {target} must be a float32 array of shape {shape}"]
    if not np.isfinite(a).all() or not np.any(a):
        return [f"lora_A of {target} must be finite and not all zero"]
    return []


def _parse_config(config: object) -> tuple[str, int, tuple[str, ...]]:
    """``(base_model, rank, targets)`` of a config that has exactly the keys and values :meth:`save` writes."""
    if not isinstance(config, dict) or set(config) != _CONFIG_KEYS:
        keys = sorted(config)[:20] if isinstance(config, dict) else type(config).__name__
        raise SpecError(f"{CONFIG_FILE} must be an object with exactly the keys {sorted(_CONFIG_KEYS)}; got {keys}")
    base_model = next((m for m, hub in HUB_NAMES.items() if hub == config["base_model_name_or_path"]), None)
    targets = config["target_modules"]
    problems = _structure_problems(base_model, config["r"], tuple(targets) if isinstance(targets, list) else None)
    if problems:
        raise SpecError(f"{CONFIG_FILE}: " + "; ".join(problems))
    canonical = _peft_config(base_model, config["r"], tuple(targets))
    if config != canonical:
        odd = sorted(k for k in canonical if config[k] != canonical[k])
        raise SpecError(f"{CONFIG_FILE}: {odd} differ from a PAVE base adapter's values; use the dock's base")
    return base_model, config["r"], tuple(targets)


def _peft_config(base_model: str, rank: int, targets: tuple[str, ...]) -> dict:
    return {"peft_type": "LORA", "base_model_name_or_path": HUB_NAMES[base_model], "r": rank,
            "lora_alpha": 2 * rank, "lora_dropout": 0.0, "target_modules": list(targets), "bias": "none",
            "fan_in_fan_out": False, "init_lora_weights": True, "task_type": None, "inference_mode": True}


def _read_safetensors(path: Path) -> tuple[dict[str, np.ndarray], dict[str, str]]:
    """Tensors and metadata of a safetensors file within ``MAX_BASE_BYTES`` (no pickle involved)."""
    from safetensors import SafetensorError, safe_open

    try:
        if path.stat().st_size > MAX_BASE_BYTES:
            raise SpecError(f"{path.name} is larger than {MAX_BASE_BYTES} bytes")
        with safe_open(str(path), framework="numpy") as f:
            return {k: f.get_tensor(k) for k in f.keys()}, dict(f.metadata() or {})
    except SpecError:
        raise
    except (SafetensorError, OSError, ValueError, TypeError) as exc:
        raise SpecError(f"cannot read {path.name}: {type(exc).__name__}: {str(exc)[:200]}") from None


def _seed_of(metadata: dict[str, str]) -> int:
    seed = metadata.get("seed", "0")
    return int(seed) if seed.isdigit() and len(seed) < 20 else 0
