"""Vector index over the RKME specs of one feature space.

The index holds, for ``N`` learnwares sharing a feature space:

* a common frame: per-feature scale pooled from the specs' stored moments
  (``var = sum n_i (s_i^2 + (c_i - c)^2) / sum n_i``), so that statistical search is
  invariant to an affine change of units applied to every party;
* all reduced-set points stacked in that frame, their weights and owners, and each spec's
  RKHS self-term ``beta_i' K_ii beta_i`` (for exact batched MMD);
* random-Fourier-feature embeddings of each RKME (``dim`` features, fixed seed), whose
  squared distances approximate MMD^2. A FAISS HNSW graph over them prefilters candidates
  when ``N`` exceeds ``exact_below``; below that an exact numpy scan is used.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from modelreuse.specs.kernels import gaussian_kernel, random_fourier_features
from modelreuse.specs.rkme import RKMESpec

EMBED_DIM = 256
EMBED_SEED = 20231
EXACT_BELOW = 4096


def pooled_scale(specs: list[RKMESpec]) -> np.ndarray:
    """Standard deviation of the union of the sketched datasets, from stored moments."""
    n = np.array([s.n for s in specs], dtype=np.float64)
    centers = np.stack([s.center for s in specs])
    scales = np.stack([s.scale for s in specs])
    mean = n @ centers / n.sum()
    var = n @ (scales**2 + (centers - mean) ** 2) / n.sum()
    std = np.sqrt(var)
    std[std <= 0] = 1.0
    return std


@dataclass
class RKMEIndex:
    ids: list[str]
    scale: np.ndarray
    gamma: float
    points: np.ndarray  # (M, d) in the common frame
    weights: np.ndarray  # (M,)
    starts: np.ndarray  # (N + 1,) segment offsets into points
    self_terms: np.ndarray  # (N,)
    embeddings: np.ndarray  # (N, EMBED_DIM) float32
    counts: np.ndarray | None = None  # (N,) rows each spec sketches
    faiss_index: object | None = None

    @classmethod
    def build(cls, ids: list[str], specs: list[RKMESpec], exact_below: int = EXACT_BELOW) -> "RKMEIndex":
        scale = pooled_scale(specs)
        gamma = float(np.median([s.gamma for s in specs]))
        pts = [s.standardized_points(scale) for s in specs]
        lengths = np.array([len(p) for p in pts])
        starts = np.concatenate([[0], np.cumsum(lengths)])
        points = np.concatenate(pts)
        weights = np.concatenate([s.beta for s in specs])
        self_terms = _self_terms(points, weights, starts, gamma)
        embeddings = _embeddings(points, weights, starts, gamma)
        counts = np.array([s.n for s in specs], dtype=np.float64)
        index = cls(list(ids), scale, gamma, points, weights, starts, self_terms, embeddings, counts)
        if len(ids) >= exact_below:
            index.faiss_index = _hnsw(embeddings)
        return index

    def __len__(self) -> int:
        return len(self.ids)

    def without(self, excluded: set[str]) -> "RKMEIndex":
        """A copy without the given learnware ids, in the same frame (exact scan, no FAISS)."""
        keep = np.array([i for i, lid in enumerate(self.ids) if lid not in excluded], dtype=np.int64)
        idx, seg_starts = self.segment_rows(keep)
        starts = np.append(seg_starts, len(idx))
        return RKMEIndex([self.ids[i] for i in keep], self.scale, self.gamma, self.points[idx], self.weights[idx],
                         starts, self.self_terms[keep], self.embeddings[keep],
                         None if self.counts is None else self.counts[keep])

    # ------------------------------------------------------------------ queries
    def query_frame(self, spec: RKMESpec) -> tuple[np.ndarray, np.ndarray]:
        """The query's reduced set and weights in the index frame."""
        return spec.standardized_points(self.scale), spec.beta

    def prefilter(self, spec: RKMESpec, k: int) -> np.ndarray:
        """Indices of (about) the ``k`` learnwares whose embeddings are nearest the query's."""
        if k >= len(self):
            return np.arange(len(self))
        Zq, bq = self.query_frame(spec)
        q = (bq @ random_fourier_features(Zq, self.gamma, EMBED_DIM, EMBED_SEED)).astype(np.float32)[None, :]
        if self.faiss_index is not None:
            _, idx = self.faiss_index.search(q, k)
            return idx[0][idx[0] >= 0]
        d2 = ((self.embeddings - q) ** 2).sum(1)
        return np.argpartition(d2, k)[:k]

    def inner_products(self, spec: RKMESpec, candidates: np.ndarray) -> np.ndarray:
        """RKHS inner products ``<Phi_query, Phi_i>`` for each candidate, in one kernel product."""
        Zq, bq = self.query_frame(spec)
        idx, seg_starts = self.segment_rows(candidates)
        if not len(idx):
            return np.zeros(0)
        per_point = (bq @ gaussian_kernel(Zq, self.points[idx], self.gamma)) * self.weights[idx]
        return np.add.reduceat(per_point, seg_starts)

    def query_self_term(self, spec: RKMESpec) -> float:
        """``||Phi_query||^2`` in the index frame."""
        Zq, bq = self.query_frame(spec)
        return float(bq @ gaussian_kernel(Zq, Zq, self.gamma) @ bq)

    def mmd2(self, spec: RKMESpec, candidates: np.ndarray) -> np.ndarray:
        """Exact squared MMD between the query RKME and each candidate, in one batch."""
        cross = self.inner_products(spec, candidates)
        return np.maximum(self.query_self_term(spec) - 2.0 * cross + self.self_terms[candidates], 0.0)

    def kernel_means_at(self, X_frame: np.ndarray, candidates: np.ndarray) -> np.ndarray:
        """``(n, c)`` values of each candidate's RKME function ``sum_j beta_j k(z_j, x)``."""
        idx, seg_starts = self.segment_rows(candidates)
        K = gaussian_kernel(X_frame, self.points[idx], self.gamma) * self.weights[idx]
        return np.add.reduceat(K, seg_starts, axis=1)

    def gram(self, candidates: np.ndarray) -> np.ndarray:
        """``(c, c)`` RKHS inner products between candidate RKMEs: ``S K S'`` where row ``i`` of
        ``S`` holds candidate ``i``'s weights on its own points."""
        idx, seg_starts = self.segment_rows(candidates)
        owner = np.repeat(np.arange(len(candidates)), np.diff(np.append(seg_starts, len(idx))))
        S = np.zeros((len(candidates), len(idx)))
        S[owner, np.arange(len(idx))] = self.weights[idx]
        P = self.points[idx]
        return S @ gaussian_kernel(P, P, self.gamma) @ S.T

    def segment_rows(self, candidates: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Row indices of the candidates' points (concatenated) and each segment's start."""
        candidates = np.asarray(candidates, dtype=np.int64)
        lengths = self.starts[candidates + 1] - self.starts[candidates]
        seg_starts = np.concatenate([[0], np.cumsum(lengths)[:-1]])
        idx = np.arange(lengths.sum()) - np.repeat(seg_starts, lengths) + np.repeat(self.starts[candidates], lengths)
        return idx, seg_starts


def _self_terms(points, weights, starts, gamma, block: int = 256) -> np.ndarray:
    """``beta_i' K(Z_i, Z_i) beta_i`` per learnware, batched over equal-size blocks."""
    n = len(starts) - 1
    lengths = np.diff(starts)
    out = np.empty(n)
    if n and (lengths == lengths[0]).all():
        m = int(lengths[0])
        P = points.reshape(n, m, -1)
        W = weights.reshape(n, m)
        for s in range(0, n, block):
            p = P[s : s + block]
            sq = (p**2).sum(-1)
            d2 = np.maximum(sq[:, :, None] + sq[:, None, :] - 2 * p @ p.transpose(0, 2, 1), 0)
            out[s : s + block] = np.einsum("bi,bij,bj->b", W[s : s + block], np.exp(-gamma * d2), W[s : s + block])
        return out
    for i in range(n):
        p, w = points[starts[i] : starts[i + 1]], weights[starts[i] : starts[i + 1]]
        out[i] = w @ gaussian_kernel(p, p, gamma) @ w
    return out


def _embeddings(points, weights, starts, gamma, block: int = 2048) -> np.ndarray:
    """RFF kernel-mean embedding per learnware, computed ``block`` learnwares at a time."""
    n = len(starts) - 1
    out = np.empty((n, EMBED_DIM), dtype=np.float32)
    for s in range(0, n, block):
        e = min(s + block, n)
        lo, hi = starts[s], starts[e]
        phi = random_fourier_features(points[lo:hi], gamma, EMBED_DIM, EMBED_SEED) * weights[lo:hi, None]
        out[s:e] = np.add.reduceat(phi, starts[s:e] - lo, axis=0)
    return out


def _hnsw(embeddings: np.ndarray):
    import faiss

    index = faiss.IndexHNSWFlat(embeddings.shape[1], 32)
    index.hnsw.efConstruction = 80
    index.hnsw.efSearch = 128
    index.add(np.ascontiguousarray(embeddings))
    return index
