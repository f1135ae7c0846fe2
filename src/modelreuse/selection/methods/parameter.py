"""The ``parameter`` selector: rank learnwares by the cosine between the user's PAVE task vector
and each learnware's PAVE model vector (:mod:`modelreuse.specs.pave`), and the vector index it
ranks with.

Paper: Tan et al., "A Study on PAVE Specification for Learnware" (section 3.3: identification by
``cos(B_task, B_model)`` on one shared base adapter). The public reference implementation
(Learnware-LAMDA/Learnware, ``learnware/specification/regular/text/generative.py``) scores
``sigmoid(cos / 0.05)``, a monotone map of the cosine; here the score *is* the cosine (higher is
better, in [-1, 1]), so it reads directly. Only specs on the query's base adapter are comparable:
another base is a :class:`~modelreuse.errors.SpecError`, never a silent zero.

Index (:class:`PAVEIndex`), one per base adapter, rows in dock order:

* ``vectors``: each model vector divided by its norm (:meth:`PAVESpec.embedding`, float32), so
  an inner product is a cosine. Float32 rather than float16: the exact scores read a few rows of a
  memory map, and one BLAS dot product per row straight from the map costs a tenth of copying
  those rows out and converting float16 (1.5 ms against 45 ms for 64 rows of 36,864 on two busy
  cores);
* ``sketches``: a CountSketch (Charikar, Chen & Farach-Colton 2002; the "hashing trick" of
  Weinberger et al. 2009) of each unit vector into :data:`SKETCH_DIM` dimensions: entry ``j`` is
  added, with a seeded random sign, to seeded bucket ``h(j)``. The map is fixed (seeded by the
  vector length) and data-independent, so no learnware's sketch depends on another's; inner
  products of sketches are unbiased estimates of the cosines, with standard deviation about
  ``sqrt((1 + cos^2) / SKETCH_DIM)``. Vectors no longer than :data:`SKETCH_DIM` are their own sketch.

A search scores the sketches with one FAISS inner-product index (``IndexFlatIP``, exact over the
sketches; restricted to the candidates by an ID selector when filters or exclusions leave out
rows) and ranks by exact cosine, from ``vectors``, the best ``prefilter`` rows plus every row whose
sketch score is within :data:`SKETCH_MARGIN` (four standard deviations of a sketch error at its
largest) of the ``k``-th best sketch score, at most :data:`MAX_RERANK` rows. So the answer is the
exact top ``k`` unless a sketch errs by more than the margin or more than :data:`MAX_RERANK`
learnwares crowd within it; where few learnwares are close to the query (the usual case) only
about ``prefilter`` rows are read. With at most ``prefilter`` candidates every one is scored
exactly. Cost per query: one pass over ``N x SKETCH_DIM`` float32 plus one dot product of length
``L`` per row scored.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

import numpy as np

from modelreuse.errors import EmptyDockError, InvalidTaskDataError, SpecError
from modelreuse.selection.base import SELECTORS, Candidates
from modelreuse.selection.ranking import RankedLearnware, Ranking
from modelreuse.specs.pave import PAVESpec

SKETCH_DIM = 512
SKETCH_SEED = 18_2024
SKETCH_MARGIN = 4 * np.sqrt(2 / SKETCH_DIM)  # 0.25
DEFAULT_PREFILTER = 64
MAX_RERANK = 1024
_CHUNK_VALUES = 4_000_000  # entries per block when sketching many vectors (64 MB of values and slots)


# ---------------------------------------------------------------------- the index
@lru_cache(maxsize=4)
def _count_sketch(length: int) -> tuple[np.ndarray, np.ndarray]:
    """The CountSketch of vectors of ``length`` entries: each entry's bucket and sign (seeded)."""
    rng = np.random.Generator(np.random.PCG64([SKETCH_SEED, length]))
    return rng.integers(0, SKETCH_DIM, size=length), rng.choice(np.array([-1.0, 1.0]), size=length)


def sketch(unit: np.ndarray) -> np.ndarray:
    """``(n, D)`` float32 sketches of ``(n, L)`` unit vectors (module doc): the vectors themselves
    when ``L <= SKETCH_DIM``, else their CountSketch (one ``bincount`` per block of rows)."""
    unit = np.atleast_2d(unit)
    n, length = unit.shape
    if length <= SKETCH_DIM:
        return np.ascontiguousarray(unit, dtype=np.float32)
    buckets, signs = _count_sketch(length)
    step = max(1, _CHUNK_VALUES // length)
    out = np.empty((n, SKETCH_DIM), dtype=np.float32)
    for lo in range(0, n, step):
        block = np.asarray(unit[lo:lo + step], dtype=np.float64) * signs
        slots = (np.arange(len(block))[:, None] * SKETCH_DIM + buckets).ravel()
        out[lo:lo + step] = np.bincount(slots, block.ravel(), len(block) * SKETCH_DIM).reshape(len(block), -1)
    return out


@dataclass
class PAVEIndex:
    """The unit model vectors of the learnwares on one base adapter and their sketches; row ``i``
    is learnware ``ids[i]`` (module doc). ``extended`` and ``removed`` equal a :meth:`build` over
    the resulting rows (a row depends on its own spec only)."""

    ids: list[str]
    base_id: str
    vectors: np.ndarray  # (n, L) float32, unit rows
    sketches: np.ndarray  # (n, D) float32
    _faiss: Any = field(default=None, repr=False)

    @classmethod
    def build(cls, ids: list[str], specs: list[PAVESpec]) -> PAVEIndex:
        """The index of model vectors ``specs`` (row ``i`` is learnware ``ids[i]``); :class:`SpecError`
        unless all are on one base adapter."""
        if not specs:
            raise SpecError("a PAVE index needs at least one spec")
        bases = {s.base_id for s in specs}
        if len(bases) != 1 or len({s.vector.shape for s in specs}) != 1:
            raise SpecError(f"PAVE specs of one index must share one base adapter; got {sorted(b[:12] for b in bases)}")
        vectors = np.stack([s.embedding() for s in specs])
        return cls(list(ids), specs[0].base_id, vectors, sketch(vectors))

    def __len__(self) -> int:
        return len(self.ids)

    @property
    def length(self) -> int:
        """Entries per vector."""
        return int(self.vectors.shape[1])

    def extended(self, ids: list[str], specs: list[PAVESpec]) -> PAVEIndex:
        """This index with ``specs`` appended (only they are sketched)."""
        new = PAVEIndex.build(ids, specs)
        if new.base_id != self.base_id or new.length != self.length:
            raise SpecError(f"PAVE specs on base {new.base_id[:12]} cannot join the index of base {self.base_id[:12]}")
        return PAVEIndex([*self.ids, *new.ids], self.base_id, np.concatenate([self.vectors, new.vectors]),
                         np.concatenate([self.sketches, new.sketches]))

    def removed(self, gone: set[str]) -> PAVEIndex:
        """This index without the learnwares ``gone``."""
        keep = np.array([i for i, lid in enumerate(self.ids) if lid not in gone], dtype=np.int64)
        return PAVEIndex([self.ids[i] for i in keep], self.base_id, self.vectors[keep], self.sketches[keep])

    def search(self, query: np.ndarray, k: int, rows: np.ndarray | None = None,
               prefilter: int = DEFAULT_PREFILTER) -> tuple[np.ndarray, np.ndarray]:
        """The (at most) ``k`` rows (of ``rows``, default all) with the largest cosine to the unit
        vector ``query``, best first, and their exact cosines (module doc)."""
        query = np.asarray(query, dtype=np.float32).ravel()
        if query.shape != (self.length,):
            raise SpecError(f"a query vector on this base has {self.length} entries, got {query.shape}")
        n = len(self) if rows is None else len(rows)
        if n > max(prefilter, k):
            rows = self._prefiltered(query, k, max(prefilter, k), rows)
        elif rows is None:
            rows = np.arange(n)
        rows = np.sort(np.asarray(rows, dtype=np.int64))
        cosines = np.fromiter((self.vectors[r] @ query for r in rows), np.float64, len(rows))  # no copy (module doc)
        order = np.argsort(-cosines, kind="stable")[:k]
        return rows[order], cosines[order]

    def _prefiltered(self, query: np.ndarray, k: int, count: int, rows: np.ndarray | None) -> np.ndarray:
        """The rows (of ``rows``) to score exactly: the ``count`` whose sketches have the largest
        inner product with the query's, and those within the margin of the ``k``-th (module doc)."""
        import faiss

        if self._faiss is None:
            self._faiss = faiss.IndexFlatIP(self.sketches.shape[1])
            self._faiss.add(np.ascontiguousarray(self.sketches, dtype=np.float32))
        params = None
        if rows is not None:
            selector = faiss.IDSelectorBatch(np.ascontiguousarray(rows, dtype=np.int64))
            params = faiss.SearchParameters(sel=selector)
        with _one_openmp_thread(faiss):
            scores, found = self._faiss.search(sketch(query[None, :]), max(count, MAX_RERANK), params=params)
        scores, found = scores[0][found[0] >= 0], found[0][found[0] >= 0]
        margin = SKETCH_MARGIN if self.length > SKETCH_DIM else 0.0  # a vector that is its own sketch is exact
        close = scores >= scores[min(k, len(scores)) - 1] - margin
        return found[: max(count, int(close.sum()))]


@contextmanager
def _one_openmp_thread(faiss: Any):
    """FAISS on one OpenMP thread for one query (in this thread): threads spinning on busy cores
    make a 10,000 x 512 scan 30x slower, and concurrent queries are the parallelism."""
    before = faiss.omp_get_max_threads()
    faiss.omp_set_num_threads(1)
    try:
        yield
    finally:
        faiss.omp_set_num_threads(before)


# ---------------------------------------------------------------------- the selector
@dataclass
class ParameterCandidates(Candidates):
    """:class:`Candidates` plus the dock's persisted PAVE index: ``pave_index(modality)`` -> the
    index of that modality's learnwares with a PAVE spec (all of them, so a superset of the
    cards; ``None`` when there are none). Without it the selector builds one from the specs."""

    pave_index: Callable[[str], PAVEIndex | None] | None = field(default=None, repr=False)


def query_pave(query: Any) -> PAVESpec:
    """The PAVE task vector of a query: the spec itself or a :class:`~modelreuse.task.Task`'s ``pave``."""
    spec = query if isinstance(query, PAVESpec) else getattr(query, "pave", None)
    if not isinstance(spec, PAVESpec):
        raise InvalidTaskDataError("parameter search needs a PAVE task vector: PAVESpec.fit_task(X, y, "
                                   f"base=dock.pave_base(modality)) or a Task(pave=...); got {type(query).__name__}")
    if spec.role != "task":
        raise InvalidTaskDataError("parameter search takes a task vector (PAVESpec.fit_task), not a model vector")
    return spec


_ROWS_MEMO = "parameter: rows"


def candidate_rows(candidates: Candidates, spec: PAVESpec) -> tuple[PAVEIndex, np.ndarray | None, dict[str, str]]:
    """The index of the query's modality, the rows of it that are candidates (``None``: all) and
    the candidates' names; memoised while the dock hands over the same cards and index."""
    index = _index_for(candidates, spec)
    memo = candidates.cache.get(_ROWS_MEMO)
    if memo is not None and memo[0] is candidates.cards and memo[1] is index and memo[2] == candidates.exclude:
        return memo[3]
    names = {c["id"]: c["name"] for c in candidates.kept()}
    rows = np.array([i for i, lid in enumerate(index.ids) if lid in names], dtype=np.int64)
    if len(rows) == 0:
        raise EmptyDockError(f"no {spec.modality} learnware with a PAVE spec matches this search; submit some or "
                             "relax the filters")
    answer = (index, None if len(rows) == len(index) else rows, names)
    candidates.cache[_ROWS_MEMO] = (candidates.cards, index, candidates.exclude, answer)
    return answer


def _index_for(candidates: Candidates, spec: PAVESpec) -> PAVEIndex:
    """The dock's index of the query's modality (or one built from the candidates' specs on the
    query's base); :class:`SpecError` when its learnwares are on another base."""
    if isinstance(candidates, ParameterCandidates) and candidates.pave_index is not None:
        index = candidates.pave_index(spec.modality)
    else:
        index = candidates.shared(f"pave_index:{spec.base_id}", lambda cards: _built(candidates, cards, spec))
    if index is None:
        raise EmptyDockError(f"no {spec.modality} learnware in the dock has a PAVE spec; submit some (their specs "
                             "fitted on dock.pave_base(modality)) or search by another method")
    if index.base_id != spec.base_id or index.length != spec.vector.shape[0]:
        raise SpecError(f"your task vector was fitted on PAVE base adapter {spec.base_id[:12]} (rank {spec.rank}); "
                        f"this dock's {spec.modality} learnwares are on {index.base_id[:12]}: refit it with "
                        f"PAVESpec.fit_task(..., base=dock.pave_base({spec.modality!r}))")
    return index


def _built(candidates: Candidates, cards: list[dict], spec: PAVESpec) -> PAVEIndex | None:
    """The index of the PAVE specs among ``cards`` on the query's base (None when no card of its
    modality has one); :class:`SpecError` when those of its modality are all on other bases."""
    kept, specs = candidates.specs("pave", cards)
    same = [(c["id"], s) for c, s in zip(kept, specs) if s.modality == spec.modality]
    on_base = [(lid, s) for lid, s in same if s.base_id == spec.base_id]
    if same and not on_base:
        others = sorted({s.base_id[:12] for _, s in same})
        raise SpecError(f"your task vector was fitted on PAVE base adapter {spec.base_id[:12]}; the learnwares are "
                        f"on {others}: refit it with PAVESpec.fit_task(..., base=dock.pave_base({spec.modality!r}))")
    return PAVEIndex.build([lid for lid, _ in on_base], [s for _, s in on_base]) if on_base else None


@SELECTORS.register("parameter", spec_kinds=("pave",), feature_space=False,
                    help="rank by the cosine between the task's PAVE vector and each learnware's")
@dataclass
class ParameterSelector:
    """PAVE identification (module doc): the ``k`` learnwares whose model vectors have the largest
    cosine with the query's task vector; ``prefilter`` candidates are scored exactly."""

    prefilter: int = DEFAULT_PREFILTER

    def select(self, query: Any, candidates: Candidates, k: int) -> Ranking:
        spec = query_pave(query)
        index, rows, names = candidate_rows(candidates, spec)
        found, cosines = index.search(spec.embedding(), k, rows, prefilter=self.prefilter)
        entries = [RankedLearnware(
            learnware_id=index.ids[r], name=names[index.ids[r]], score=float(c),
            reason=f"cosine {c:.3f} between your task vector and its model vector (PAVE, {spec.base_model} base "
                   f"{spec.base_id[:12]}, rank {spec.rank})",
            details={"cosine": float(c)}) for r, c in zip(found, cosines)]
        details = {"base_id": spec.base_id, "modality": spec.modality, "spec_kind": "pave",
                   "candidates": len(index) if rows is None else len(rows)}
        return Ranking(entries, "parameter", details)
