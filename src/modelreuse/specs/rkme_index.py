"""Vector index over the RKME specs of one feature space.

Frames. Learnware specs come from many submitters, so no learnware's score may depend on the
*other* learnwares' specs: one hostile spec (the largest ``n``, the largest scale, a far centre)
must not move anybody else's MMD or their order. Hence:

* **exact scores in the query's frame**: the MMD between the query and learnware ``i`` is
  computed with features divided by the *query's* ``scale`` and the query's ``gamma`` (the
  user's frame, also the frame in which :mod:`modelreuse.selection.calibration` tests fit). It
  is a function of the two specs only; an affine change of units applied to every party leaves
  it unchanged;
* **prefilter in a robust shared frame**: the random-Fourier-feature embeddings (``dim``
  features, fixed seed) need one frame fixed at build time, the per-feature *median* of the
  specs' scales with the median ``gamma``. A median moves by at most one order statistic of the
  honest specs when one spec is added, so the candidate set is robust, though not strictly
  independent of other specs; with at most ``prefilter`` learnwares (64 by default) every one is
  scored exactly and the result is strictly independent. A FAISS HNSW graph over the
  embeddings serves the prefilter when ``N`` exceeds ``exact_below``; below, a numpy scan.

Trade-off: the stored moments no longer give a pooled frame (the union's standard deviation)
in which self-terms ``beta_i' K_ii beta_i`` are computed once at build; they are recomputed in
each query's frame for the scored candidates, O(c m^2 d) for ``c`` candidates of ``m`` points,
independent of ``N``. Reduced sets are stored in original units. Kernel blocks are bounded
(``BLOCK_VALUES`` doubles), so a reduced set at the size limit cannot exhaust memory.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

from modelreuse.specs.kernels import gaussian_kernel, random_fourier_features
from modelreuse.specs.rkme import RKMESpec

EMBED_DIM = 256
EMBED_SEED = 20231
EXACT_BELOW = 4096
BLOCK_VALUES = 4_000_000  # doubles per kernel block (32 MB)


def robust_scale(specs: list[RKMESpec]) -> np.ndarray:
    """Per-feature median of the specs' scales: the prefilter frame (module doc)."""
    return np.median(np.stack([s.scale for s in specs]), axis=0)


@dataclass
class RKMEIndex:
    ids: list[str]
    scale: np.ndarray  # (d,) prefilter frame: median of the specs' scales
    gamma: float  # prefilter kernel: median of the specs' gammas
    points: np.ndarray  # (M, d) reduced sets in original units
    weights: np.ndarray  # (M,)
    starts: np.ndarray  # (N + 1,) segment offsets into points
    embeddings: np.ndarray  # (N, EMBED_DIM) float32, in the prefilter frame
    counts: np.ndarray | None = None  # (N,) rows each spec sketches
    faiss_index: object | None = None

    @classmethod
    def build(cls, ids: list[str], specs: list[RKMESpec], exact_below: int = EXACT_BELOW) -> RKMEIndex:
        scale = robust_scale(specs)
        gamma = float(np.median([s.gamma for s in specs]))
        lengths = np.array([len(s.Z) for s in specs])
        starts = np.concatenate([[0], np.cumsum(lengths)])
        points = np.concatenate([s.Z for s in specs])
        weights = np.concatenate([s.beta for s in specs])
        embeddings = _embeddings(points / scale, weights, starts, gamma)
        counts = np.array([s.n for s in specs], dtype=np.float64)
        index = cls(list(ids), scale, gamma, points, weights, starts, embeddings, counts)
        if len(ids) >= exact_below:
            index.faiss_index = _hnsw(embeddings)
        return index

    def __len__(self) -> int:
        return len(self.ids)

    def without(self, excluded: set[str]) -> RKMEIndex:
        """A copy without the given learnware ids, same prefilter frame (exact scan, no FAISS)."""
        keep = np.array([i for i, lid in enumerate(self.ids) if lid not in excluded], dtype=np.int64)
        idx, seg_starts = self.segment_rows(keep)
        starts = np.append(seg_starts, len(idx))
        return RKMEIndex([self.ids[i] for i in keep], self.scale, self.gamma, self.points[idx], self.weights[idx],
                         starts, self.embeddings[keep], None if self.counts is None else self.counts[keep])

    # ------------------------------------------------------------------ queries
    def prefilter(self, spec: RKMESpec, k: int) -> np.ndarray:
        """Indices of (about) the ``k`` learnwares whose embeddings are nearest the query's."""
        if k >= len(self):
            return np.arange(len(self))
        Zq = spec.Z / self.scale
        q = (spec.beta @ random_fourier_features(Zq, self.gamma, EMBED_DIM, EMBED_SEED)).astype(np.float32)[None, :]
        if self.faiss_index is not None:
            _, idx = self.faiss_index.search(q, k)
            return idx[0][idx[0] >= 0]
        d2 = ((self.embeddings - q) ** 2).sum(1)
        return np.argpartition(d2, k)[:k]

    def inner_products(self, spec: RKMESpec, candidates: np.ndarray) -> np.ndarray:
        """RKHS inner products ``<Phi_query, Phi_i>`` per candidate, in the query's frame."""
        Zq = spec.Z / spec.scale
        candidates = np.asarray(candidates, dtype=np.int64)
        lengths = self.starts[candidates + 1] - self.starts[candidates]
        out = np.zeros(len(candidates))
        for chunk in _chunks(lengths, BLOCK_VALUES // len(Zq)):
            idx, seg_starts = self.segment_rows(candidates[chunk])
            per_point = (spec.beta @ gaussian_kernel(Zq, self.points[idx] / spec.scale, spec.gamma)) * self.weights[idx]
            out[chunk] = np.add.reduceat(per_point, seg_starts)
        return out

    def self_terms(self, spec: RKMESpec, candidates: np.ndarray) -> np.ndarray:
        """``||Phi_i||^2`` per candidate in the query's frame (one ``m_i x m_i`` block each)."""
        out = np.empty(len(candidates))
        for j, i in enumerate(np.asarray(candidates, dtype=np.int64)):
            P, w = self._segment(i, spec.scale)
            out[j] = w @ gaussian_kernel(P, P, spec.gamma) @ w
        return out

    def query_self_term(self, spec: RKMESpec) -> float:
        """``||Phi_query||^2`` in the query's frame."""
        Zq = spec.Z / spec.scale
        return float(spec.beta @ gaussian_kernel(Zq, Zq, spec.gamma) @ spec.beta)

    def mmd2(self, spec: RKMESpec, candidates: np.ndarray) -> np.ndarray:
        """Exact squared MMD between the query RKME and each candidate, in the query's frame."""
        candidates = np.asarray(candidates, dtype=np.int64)
        cross = self.inner_products(spec, candidates)
        return np.maximum(self.query_self_term(spec) - 2.0 * cross + self.self_terms(spec, candidates), 0.0)

    def gram(self, spec: RKMESpec, candidates: np.ndarray) -> np.ndarray:
        """``(c, c)`` RKHS inner products between candidate RKMEs in the query's frame, one
        ``m_i x m_j`` kernel block per pair."""
        segments = [self._segment(i, spec.scale) for i in np.asarray(candidates, dtype=np.int64)]
        G = np.empty((len(segments), len(segments)))
        for a, (Pa, wa) in enumerate(segments):
            for b in range(a, len(segments)):
                Pb, wb = segments[b]
                G[a, b] = G[b, a] = wa @ gaussian_kernel(Pa, Pb, spec.gamma) @ wb
        return G

    def kernel_means_at(self, X_frame: np.ndarray, candidates: np.ndarray) -> np.ndarray:
        """``(n, c)`` values of each candidate's RKME function ``sum_j beta_j k(z_j, x)`` at rows
        ``X_frame`` given in the prefilter frame (features divided by :attr:`scale`)."""
        idx, seg_starts = self.segment_rows(candidates)
        K = gaussian_kernel(X_frame, self.points[idx] / self.scale, self.gamma) * self.weights[idx]
        return np.add.reduceat(K, seg_starts, axis=1)

    def segment_rows(self, candidates: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Row indices of the candidates' points (concatenated) and each segment's start."""
        candidates = np.asarray(candidates, dtype=np.int64)
        lengths = self.starts[candidates + 1] - self.starts[candidates]
        seg_starts = np.concatenate([[0], np.cumsum(lengths)[:-1]])
        idx = np.arange(lengths.sum()) - np.repeat(seg_starts, lengths) + np.repeat(self.starts[candidates], lengths)
        return idx, seg_starts

    def _segment(self, i: int, scale: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Learnware ``i``'s reduced set divided by ``scale``, and its weights."""
        lo, hi = self.starts[i], self.starts[i + 1]
        return self.points[lo:hi] / scale, self.weights[lo:hi]


def _chunks(lengths: np.ndarray, max_points: int) -> Iterator[slice]:
    """Consecutive slices of segments with ``lengths`` holding at most ``max_points`` points each
    (at least one segment per slice)."""
    start = 0
    while start < len(lengths):
        stop, total = start + 1, lengths[start]
        while stop < len(lengths) and total + lengths[stop] <= max_points:
            total += lengths[stop]
            stop += 1
        yield slice(start, stop)
        start = stop


def _embeddings(points: np.ndarray, weights: np.ndarray, starts: np.ndarray, gamma: float) -> np.ndarray:
    """RFF kernel-mean embedding per learnware, over blocks of at most ``BLOCK_VALUES`` features."""
    n = len(starts) - 1
    out = np.empty((n, EMBED_DIM), dtype=np.float32)
    for chunk in _chunks(np.diff(starts), BLOCK_VALUES // EMBED_DIM):
        ids = np.arange(n)[chunk]
        lo, hi = starts[ids[0]], starts[ids[-1] + 1]
        phi = random_fourier_features(points[lo:hi], gamma, EMBED_DIM, EMBED_SEED) * weights[lo:hi, None]
        out[chunk] = np.add.reduceat(phi, starts[ids] - lo, axis=0)
    return out


def _hnsw(embeddings: np.ndarray):
    import faiss

    index = faiss.IndexHNSWFlat(embeddings.shape[1], 32)
    index.hnsw.efConstruction = 80
    index.hnsw.efSearch = 128
    index.add(np.ascontiguousarray(embeddings))
    return index
