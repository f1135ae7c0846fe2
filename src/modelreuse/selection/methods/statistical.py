"""Statistical selectors on RKME specs: ``statistical`` (one learnware by MMD, with calibrated
p-values) and ``mixture`` (a non-negative mixture of learnwares); the maths is in
:mod:`modelreuse.selection.statistical` and :mod:`modelreuse.selection.calibration`."""

from __future__ import annotations

from dataclasses import dataclass

from modelreuse.errors import EmptyDockError, InvalidTaskDataError
from modelreuse.selection.base import SELECTORS, Candidates
from modelreuse.selection.calibration import DEFAULT_ALPHA, NullModel, null_model
from modelreuse.selection.ranking import Ranking
from modelreuse.selection.statistical import DEFAULT_PREFILTER, mixture_search, statistical_search
from modelreuse.specs.rkme import RKMESpec
from modelreuse.specs.rkme_index import RKMEIndex
from modelreuse.task import Task


def query_rkme(query: Task | RKMESpec) -> RKMESpec:
    """The RKME of a query: a :class:`Task`'s (fitted from its rows once) or the spec itself."""
    if isinstance(query, Task):
        return query.rkme
    if isinstance(query, RKMESpec):
        return query
    raise InvalidTaskDataError(f"statistical search needs a Task with data or an RKMESpec, got {type(query).__name__}")


_ROWS_MEMO = "statistical: persisted rows"
"""Memo of the last :func:`rkme_index` answer from a persisted index, valid while the dock hands
over the same card list and index objects (both are rebuilt when the dock's revision changes), so a
search does not pass over all N cards and index ids again."""


def rkme_index(candidates: Candidates) -> tuple[RKMEIndex, dict[str, str]]:
    """The candidates' RKME index without the excluded ids, and their names: the rows of the
    dock's persisted index when it gives one (no spec is read), else one built from the specs and
    shared per dock."""
    persisted = candidates.rkme_index() if candidates.rkme_index is not None else None
    if persisted is not None:
        memo = candidates.cache.get(_ROWS_MEMO)
        if memo is not None and memo[0] is candidates.cards and memo[1] is persisted and memo[2] == candidates.exclude:
            return memo[3]
        kept = {c["id"]: c["name"] for c in candidates.kept()}
        index = persisted if len(kept) == len(persisted) and set(persisted.ids) == set(kept) else persisted.subset(set(kept))
        if len(index) == 0:
            raise EmptyDockError("every matching learnware was removed while the search ran; try again")
        candidates.cache[_ROWS_MEMO] = (candidates.cards, persisted, candidates.exclude, (index, kept))
        return index, kept

    def build(cards: list[dict]) -> tuple[RKMEIndex, dict[str, str]]:
        kept, specs = candidates.specs("rkme", cards)
        return RKMEIndex.build([c["id"] for c in kept], specs), {c["id"]: c["name"] for c in kept}

    index, names = candidates.shared("rkme_index", build)
    return (index.without(set(candidates.exclude)) if candidates.exclude else index), names


def calibration(query: Task | RKMESpec, spec: RKMESpec, calibrate: bool) -> NullModel | None:
    """The null of the user's rows when the query has them, else of the task RKME alone."""
    if not calibrate:
        return None
    rows = query.X if isinstance(query, Task) else None
    return null_model(rows, spec, seed=query.seed if isinstance(query, Task) else 0)


@SELECTORS.register("statistical", spec_kinds=("rkme",), feature_space=True,
                    help="rank by MMD between the task's RKME and each learnware's, with p-values")
@dataclass
class StatisticalSelector:
    """Single-learnware search by MMD (Wu et al., TKDE 2023); ``calibrate`` adds a p-value per entry
    and ``details["nothing_fits"]`` at level ``alpha`` (:mod:`modelreuse.selection.calibration`)."""

    calibrate: bool = True
    alpha: float = DEFAULT_ALPHA
    prefilter: int = DEFAULT_PREFILTER

    def select(self, query: Task | RKMESpec, candidates: Candidates, k: int) -> Ranking:
        spec = query_rkme(query)
        index, names = rkme_index(candidates)
        return statistical_search(index, spec, names, k=k, prefilter=self.prefilter,
                                  null=calibration(query, spec, self.calibrate), alpha=self.alpha)


@SELECTORS.register("mixture", spec_kinds=("rkme",), feature_space=True,
                    help="non-negative mixture of learnware RKMEs closest to the task's")
@dataclass
class MixtureSelector:
    """Multiple-learnware search (Tan et al. 2024, greedy NNLS) of at most
    ``min(k, max_learnwares)`` learnwares; ``calibrate`` gives the mixture a p-value."""

    max_learnwares: int = 5
    calibrate: bool = True
    alpha: float = DEFAULT_ALPHA
    prefilter: int = DEFAULT_PREFILTER

    def select(self, query: Task | RKMESpec, candidates: Candidates, k: int) -> Ranking:
        spec = query_rkme(query)
        index, names = rkme_index(candidates)
        return mixture_search(index, spec, names, max_learnwares=min(k, self.max_learnwares),
                              prefilter=self.prefilter, null=calibration(query, spec, self.calibrate),
                              alpha=self.alpha)
