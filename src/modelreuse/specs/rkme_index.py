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
  features, fixed seed) need one shared frame, the per-feature *median* of the scales (and the
  median ``gamma``) of the first :data:`FRAME_SEED` learnwares of the index (the dock's oldest in
  the space). A median moves by at most one order statistic of the honest specs when one spec is
  added, and specs added after the first :data:`FRAME_SEED` cannot move it at all, so the
  candidate set is robust, though not strictly independent of other specs; with at most
  ``prefilter`` learnwares (64 by default) every one is scored exactly and the result is strictly
  independent. A FAISS HNSW graph over the embeddings serves the prefilter when ``N`` exceeds
  ``exact_below``; below, a numpy scan.
* **incremental**: because the frame is fixed by the first rows, appending learnwares embeds only
  the new ones (:meth:`RKMEIndex.extended`), and removing one re-embeds only when it was among
  the first :data:`FRAME_SEED` (:meth:`RKMEIndex.removed`); both equal a build from scratch over
  the same rows in the same order. Every array is a plain numeric array, so the dock can persist
  the index as ``.npy`` files and open them memory-mapped (:mod:`modelreuse.dock.index`).

Trade-off: the stored moments no longer give a pooled frame (the union's standard deviation)
in which self-terms ``beta_i' K_ii beta_i`` are computed once at build; they are recomputed in
each query's frame for the scored candidates, O(c m^2 d) for ``c`` candidates of ``m`` points,
independent of ``N``, as one zero-padded batch (no Python loop per learnware). Reduced sets are stored in original units. Kernel blocks are bounded
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
FRAME_SEED = 64  # learnwares whose scales fix the prefilter frame
BLOCK_VALUES = 4_000_000  # doubles per kernel block (32 MB)


def prefilter_frame(scales: np.ndarray, gammas: np.ndarray) -> tuple[np.ndarray, float]:
    """The prefilter frame (module doc): per-feature median of the scales and median gamma of the
    first :data:`FRAME_SEED` learnwares (rows in index order)."""
    return np.median(scales[:FRAME_SEED], axis=0), float(np.median(gammas[:FRAME_SEED]))


@dataclass
class RKMEIndex:
    """Stacked RKMEs of one feature space, row ``i`` is learnware ``ids[i]`` (module doc)."""

    ids: list[str]
    scale: np.ndarray  # (d,) prefilter frame (prefilter_frame)
    gamma: float  # prefilter kernel
    points: np.ndarray  # (M, d) reduced sets in original units
    weights: np.ndarray  # (M,)
    starts: np.ndarray  # (N + 1,) segment offsets into points
    embeddings: np.ndarray  # (N, EMBED_DIM) float32, in the prefilter frame
    counts: np.ndarray  # (N,) rows each spec sketches
    scales: np.ndarray  # (N, d) each spec's own scale (the frame is recomputed from them)
    gammas: np.ndarray  # (N,) each spec's own gamma
    faiss_index: object | None = None

    @classmethod
    def build(cls, ids: list[str], specs: list[RKMESpec], exact_below: int = EXACT_BELOW) -> RKMEIndex:
        """The index of ``specs`` (row ``i`` is learnware ``ids[i]``)."""
        return cls.from_arrays(list(ids), **_stacked(specs), exact_below=exact_below)

    @classmethod
    def from_arrays(cls, ids: list[str], *, points: np.ndarray, weights: np.ndarray, starts: np.ndarray,
                    counts: np.ndarray, scales: np.ndarray, gammas: np.ndarray, embeddings: np.ndarray | None = None,
                    faiss_index: object | None = None, exact_below: int = EXACT_BELOW) -> RKMEIndex:
        """An index from its stacked arrays; ``embeddings`` (and the FAISS graph, for at least
        ``exact_below`` learnwares) are computed when not given."""
        scale, gamma = prefilter_frame(scales, gammas)
        if embeddings is None:
            embeddings = _embeddings(points, weights, starts, scale, gamma)
        if faiss_index is None and len(ids) >= exact_below:
            faiss_index = _hnsw(embeddings)
        return cls(ids, scale, gamma, points, weights, starts, embeddings, counts, scales, gammas, faiss_index)

    def __len__(self) -> int:
        return len(self.ids)

    def extended(self, ids: list[str], specs: list[RKMESpec], exact_below: int = EXACT_BELOW) -> RKMEIndex:
        """This index with ``specs`` appended; equal to :meth:`build` over all of them. The frame
        and the existing embeddings are kept once :data:`FRAME_SEED` learnwares are in, so only
        the new rows are embedded (and added to the FAISS graph)."""
        new = _stacked(specs)
        arrays = {"points": np.concatenate([self.points, new["points"]]),
                  "weights": np.concatenate([self.weights, new["weights"]]),
                  "starts": np.concatenate([self.starts, self.starts[-1] + new["starts"][1:]]),
                  **{name: np.concatenate([getattr(self, name), new[name]]) for name in ("counts", "scales", "gammas")}}
        all_ids = [*self.ids, *ids]
        if len(self) < FRAME_SEED:
            return RKMEIndex.from_arrays(all_ids, **arrays, exact_below=exact_below)
        added = _embeddings(new["points"], new["weights"], new["starts"], self.scale, self.gamma)
        graph = None
        if self.faiss_index is not None:
            import faiss

            graph = faiss.clone_index(self.faiss_index)
            graph.add(np.ascontiguousarray(added))
        return RKMEIndex.from_arrays(all_ids, **arrays, embeddings=np.concatenate([self.embeddings, added]),
                                     faiss_index=graph, exact_below=exact_below)

    def removed(self, gone: set[str], exact_below: int = EXACT_BELOW) -> RKMEIndex:
        """This index without the learnwares ``gone``; equal to :meth:`build` over the rest (the
        frame and embeddings are recomputed only when one of the first :data:`FRAME_SEED` goes;
        the FAISS graph, which cannot remove, is rebuilt)."""
        keep = np.array([i for i, lid in enumerate(self.ids) if lid not in gone], dtype=np.int64)
        arrays = self._rows(keep)
        seed = min(FRAME_SEED, len(self))
        same_frame = len(keep) >= seed and bool(np.all(keep[:seed] == np.arange(seed)))
        return RKMEIndex.from_arrays([self.ids[i] for i in keep], **arrays,
                                     embeddings=self.embeddings[keep] if same_frame else None, exact_below=exact_below)

    def subset(self, ids: set[str]) -> RKMEIndex:
        """The rows of ``ids`` only, in the same prefilter frame (a query-time view: exact scan,
        no FAISS)."""
        keep = np.array([i for i, lid in enumerate(self.ids) if lid in ids], dtype=np.int64)
        return RKMEIndex([self.ids[i] for i in keep], self.scale, self.gamma, embeddings=self.embeddings[keep],
                         **self._rows(keep))

    def without(self, excluded: set[str]) -> RKMEIndex:
        """A copy without the given learnware ids, same prefilter frame (exact scan, no FAISS)."""
        return self.subset({lid for lid in self.ids if lid not in excluded})

    def _rows(self, keep: np.ndarray) -> dict[str, np.ndarray]:
        """The stacked arrays (no embeddings) of rows ``keep``."""
        idx, seg_starts = self.segment_rows(keep)
        return {"points": self.points[idx], "weights": self.weights[idx], "starts": np.append(seg_starts, len(idx)),
                "counts": self.counts[keep], "scales": self.scales[keep], "gammas": self.gammas[keep]}

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
        """``||Phi_i||^2`` per candidate in the query's frame: the candidates' reduced sets,
        zero-padded to the longest (weight 0 in the padding), as one batch of ``m x m`` kernel
        blocks per slice of at most ``BLOCK_VALUES`` values."""
        candidates = np.asarray(candidates, dtype=np.int64)
        lengths = self.starts[candidates + 1] - self.starts[candidates]
        longest = int(lengths.max(initial=1))
        per_slice = max(1, BLOCK_VALUES // (longest * max(longest, self.points.shape[1])))
        out = np.empty(len(candidates))
        for lo in range(0, len(candidates), per_slice):
            P, w = self._padded(candidates[lo:lo + per_slice], spec.scale, longest)
            sq = np.einsum("cij,cij->ci", P, P)
            d2 = np.maximum(sq[:, :, None] + sq[:, None, :] - 2.0 * (P @ P.transpose(0, 2, 1)), 0.0)
            out[lo:lo + per_slice] = np.einsum("ci,cij,cj->c", w, np.exp(-spec.gamma * d2), w)
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
        """``(c, c)`` RKHS inner products between candidate RKMEs in the query's frame: the kernel
        between all their points, weighted and summed per pair of segments (rows in slices of
        at most ``BLOCK_VALUES`` values)."""
        idx, seg_starts = self.segment_rows(candidates)
        P, w = self.points[idx] / spec.scale, self.weights[idx]
        lengths = np.diff(np.append(seg_starts, len(idx)))
        G = np.empty((len(seg_starts), len(seg_starts)))
        for chunk in _chunks(lengths, max(1, BLOCK_VALUES // max(1, len(idx)))):
            lo, hi = seg_starts[chunk.start], seg_starts[chunk.start] + lengths[chunk].sum()
            K = gaussian_kernel(P[lo:hi], P, spec.gamma) * w[lo:hi, None] * w[None, :]
            G[chunk] = np.add.reduceat(np.add.reduceat(K, seg_starts[chunk] - lo, axis=0), seg_starts, axis=1)
        return (G + G.T) / 2

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

    def _padded(self, candidates: np.ndarray, scale: np.ndarray, length: int) -> tuple[np.ndarray, np.ndarray]:
        """The candidates' reduced sets divided by ``scale`` as a ``(c, length, d)`` batch and
        their weights as ``(c, length)``, zero after each set's own points."""
        idx, seg_starts = self.segment_rows(candidates)
        lengths = np.diff(np.append(seg_starts, len(idx)))
        segment, slot = np.repeat(np.arange(len(candidates)), lengths), np.arange(len(idx)) - np.repeat(seg_starts, lengths)
        P = np.zeros((len(candidates), length, self.points.shape[1]))
        w = np.zeros((len(candidates), length))
        P[segment, slot] = self.points[idx] / scale
        w[segment, slot] = self.weights[idx]
        return P, w


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


def _stacked(specs: list[RKMESpec]) -> dict[str, np.ndarray]:
    """The specs' arrays stacked as :class:`RKMEIndex` keeps them."""
    return {"points": np.concatenate([s.Z for s in specs]), "weights": np.concatenate([s.beta for s in specs]),
            "starts": np.concatenate([[0], np.cumsum([len(s.Z) for s in specs])]).astype(np.int64),
            "counts": np.array([s.n for s in specs], dtype=np.float64),
            "scales": np.stack([np.asarray(s.scale, np.float64) for s in specs]),
            "gammas": np.array([s.gamma for s in specs], dtype=np.float64)}


def _embeddings(points: np.ndarray, weights: np.ndarray, starts: np.ndarray, scale: np.ndarray,
                gamma: float) -> np.ndarray:
    """RFF kernel-mean embedding per learnware of its points divided by ``scale``, over blocks of
    at most ``BLOCK_VALUES`` features (each learnware's rows alone decide its embedding)."""
    n = len(starts) - 1
    out = np.empty((n, EMBED_DIM), dtype=np.float32)
    for chunk in _chunks(np.diff(starts), BLOCK_VALUES // EMBED_DIM):
        ids = np.arange(n)[chunk]
        lo, hi = starts[ids[0]], starts[ids[-1] + 1]
        phi = random_fourier_features(points[lo:hi] / scale, gamma, EMBED_DIM, EMBED_SEED) * weights[lo:hi, None]
        out[chunk] = np.add.reduceat(phi, starts[ids] - lo, axis=0)
    return out


def _hnsw(embeddings: np.ndarray):
    import faiss

    index = faiss.IndexHNSWFlat(embeddings.shape[1], 32)
    index.hnsw.efConstruction = 80
    index.hnsw.efSearch = 128
    index.add(np.ascontiguousarray(embeddings))
    return index
