"""The approximation check of the PAVE paper (Figure 3, Table A9, Theorem 4) on a subset of datasets.

For each dataset of the subset, two parameter vectors: the user's task vector and the well-trained
learnware's model vector, each in three modes:

* (c) ``B``: the spec's vector, what search compares;
* (b) ``BA``: every target's ``B A`` with the dock base's shared ``A``, flattened (the scaling
  ``alpha / r`` is one constant and leaves cosines unchanged);
* (a) the full-rank change ``ΔW`` of the same target matrices, fitted by the same fit (rows,
  targets, head, loss, steps, batch size, learning rate, seed) with every entry of ``ΔW`` free.
  It runs through the same code path as the spec: LoRA with ``A = [I; 0]`` (rank = the largest
  fan-in, zero rows below the identity) and ``alpha = rank``, so ``(alpha / r) B A`` is exactly the
  first ``fan-in`` columns of ``B``, a training step on ``B`` is one on ``ΔW``, and the padding
  columns get no gradient and stay zero.

Reported: Spearman and Pearson correlations between the pairwise cosines of the modes over all
pairs of the subset's vectors, the largest ``|cos(B) - cos(BA)|`` (Theorem 4 bounds it by ``2ε``
with high probability), how often a task's top-1 model vector of the subset is the same in every
mode, and the vector lengths (the paper's storage and similarity-cost rows of Table A9).
The full-rank vectors are kept in the run's work folder, so an interrupted check resumes.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from modelreuse.learnware import Learnware
from modelreuse.specs.pave import BATCH_SIZE, LR, PAVESpec

if TYPE_CHECKING:
    from modelreuse.bench.pave_bench import _Run


@dataclass(frozen=True)
class FullRankBase:
    """A stand-in for :class:`~modelreuse.specs.pave_base.PAVEBase` whose LoRA trains the full
    change of every target (module doc): ``A = [I; 0]``, ``rank`` = the largest fan-in, ``alpha = rank``."""

    targets: tuple[str, ...]
    rank: int
    lora_A: dict[str, np.ndarray] = field(repr=False)

    @property
    def alpha(self) -> int:
        return self.rank

    @classmethod
    def of(cls, base: Any) -> FullRankBase:
        fan_in = {t: int(np.prod(base.lora_A[t].shape[1:])) for t in base.targets}
        rank = max(fan_in.values())
        lora_A = {}
        for t in base.targets:
            eye = np.zeros((rank, fan_in[t]), dtype=np.float32)
            eye[: fan_in[t]] = np.eye(fan_in[t], dtype=np.float32)
            lora_A[t] = eye.reshape((rank, *base.lora_A[t].shape[1:]))
        return cls(tuple(base.targets), rank, lora_A)

    def change(self, flat_b: np.ndarray, base: Any) -> np.ndarray:
        """The flattened ``ΔW`` of every target from the trained stand-in ``B`` entries."""
        parts, start = [], 0
        for t in self.targets:
            out = base.b_shapes[t][0]
            fan_in = int(np.prod(base.lora_A[t].shape[1:]))
            b = flat_b[start: start + out * self.rank].reshape(out, self.rank)
            parts.append(b[:, :fan_in].ravel())
            start += out * self.rank
        return np.concatenate(parts)


def expanded(spec: PAVESpec, base: Any) -> np.ndarray:
    """Mode (b): the flattened ``B A`` of every target of a spec on ``base``."""
    parts, start = [], 0
    for t in base.targets:
        shape = base.b_shapes[t]
        size = int(np.prod(shape))
        b = spec.vector[start: start + size].astype(np.float64).reshape(shape[0], base.rank)
        a = base.lora_A[t].astype(np.float64).reshape(base.rank, -1)
        parts.append((b @ a).ravel())
        start += size
    return np.concatenate(parts)


def _fitter(modality: str) -> Any:
    if modality == "text":
        from modelreuse.specs import _pave_text

        return _pave_text
    from modelreuse.specs import _pave_image

    return _pave_image


def full_change(run: _Run, name: str, role: str, spec: PAVESpec) -> np.ndarray:
    """Mode (a) of one vector: the full-rank fit of the spec's rows and targets (module doc)."""
    from modelreuse.specs._pave_fit import fit_vector

    data, fit = run.data(name), run.config.model_fit if role == "model" else run.config.task_fit
    if role == "model":
        X, model = data.raw("developer"), Learnware.open(run.package(name, "good")).load_model()
        P = model.predict_proba(data.features["developer"])
    else:
        X, P = data.raw("user"), np.eye(data.corpus.n_classes)[data.labels("user")]
    stand_in, fitter = FullRankBase.of(run.base), _fitter(run.config.modality)
    prepared = fitter.prepare(fitter.check_inputs(X, "rows"), stand_in)
    flat = fit_vector(prepared, P / P.sum(1, keepdims=True), steps=spec.steps,
                      batch_size=fit.get("batch_size", BATCH_SIZE), lr=fit.get("lr", LR), seed=run.config.seed)
    return stand_in.change(flat, run.base)


def _vectors(run: _Run, names: list[str]) -> tuple[list[str], dict[str, list[np.ndarray]]]:
    """Labels and the three modes' vectors of every (dataset, role) of the subset."""
    labels, modes = [], {"b": [], "ba": [], "full": []}
    folder = run.work / "approximation"
    folder.mkdir(parents=True, exist_ok=True)
    for name in names:
        specs = {"task": PAVESpec.load(run.task_vector_path(name)),
                 "model": Learnware.open(run.package(name, "good")).spec("pave")}
        for role, spec in specs.items():
            label, path = f"{name}:{role}", folder / f"{name}-{role}.npy"
            if not path.is_file():
                run.progress(f"approximation check: full-rank fit of {label}")
                start = time.perf_counter()
                np.save(path, full_change(run, name, role, spec).astype(np.float32))
                run.state["approximation"][label] = {"full_fit_s": time.perf_counter() - start}
                run.save()
            labels.append(label)
            modes["b"].append(spec.vector.astype(np.float64))
            modes["ba"].append(expanded(spec, run.base))
            modes["full"].append(np.load(path).astype(np.float64))
    return labels, modes


def _cosines(vectors: list[np.ndarray]) -> np.ndarray:
    V = np.stack(vectors)
    V /= np.linalg.norm(V, axis=1, keepdims=True)
    return V @ V.T


def approximation_check(run: _Run, names: list[str]) -> dict[str, Any]:
    """The check of the module doc on datasets ``names``."""
    from scipy.stats import pearsonr, spearmanr

    labels, modes = _vectors(run, names)
    cos = {mode: _cosines(v) for mode, v in modes.items()}
    upper = np.triu_indices(len(labels), k=1)
    pairs = {mode: c[upper] for mode, c in cos.items()}
    tasks = [i for i, label in enumerate(labels) if label.endswith(":task")]
    models = [i for i, label in enumerate(labels) if label.endswith(":model")]
    top1 = {mode: [models[int(np.argmax(c[t, models]))] for t in tasks] for mode, c in cos.items()}
    return {
        "datasets": names, "vectors": labels, "pairs": int(len(pairs["b"])),
        "spearman": {"b_vs_full": float(spearmanr(pairs["b"], pairs["full"])[0]),
                     "ba_vs_full": float(spearmanr(pairs["ba"], pairs["full"])[0]),
                     "b_vs_ba": float(spearmanr(pairs["b"], pairs["ba"])[0])},
        "pearson": {"b_vs_full": float(pearsonr(pairs["b"], pairs["full"])[0]),
                    "b_vs_ba": float(pearsonr(pairs["b"], pairs["ba"])[0])},
        "max_abs_cos_b_minus_ba": float(np.max(np.abs(pairs["b"] - pairs["ba"]))),
        "top1_model_vector_agreement": {"b_vs_full": float(np.mean(np.equal(top1["b"], top1["full"]))),
                                        "b_vs_ba": float(np.mean(np.equal(top1["b"], top1["ba"])))},
        "cosines": {mode: np.round(c, 4).tolist() for mode, c in cos.items()},
        "vector_entries": {"b": int(len(modes["b"][0])), "ba": int(len(modes["ba"][0])),
                           "full": int(len(modes["full"][0]))},
        "full_fit_s": {k: v["full_fit_s"] for k, v in run.state["approximation"].items()},
    }
