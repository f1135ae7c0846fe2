"""The coupled choice of a (model, adaptation) pair on a zoo, by cross-validation on the user's rows.

The tutorial seed (/work/shared/seeds/000_38a87d688d7b8f27.txt, "Coupling of Selection and
Adaptation") asks that the pre-trained model and the way it is adapted be chosen together: the best
model under one adaptation need not be the best under another, and combining several models may
beat any one of them. Followed here, cheaply and boundedly, as in You, Liu, Wang, Long and Jordan,
"Ranking and Tuning Pre-trained Models: A New Paradigm for Exploiting Model Hubs", JMLR 23 (2022):
a transferability ranking (LogME) prunes the hub first, then only a few pairs are compared
empirically. The pairs are the linear probe (Kornblith, Shlens and Le, CVPR 2019) on each of the top
``n_single`` extractors, :mod:`~modelreuse.reuse.concat_probe` and
:mod:`~modelreuse.reuse.probe_ensemble` over the top ``k``; each is scored by stratified k-fold
cross-validation accuracy (scikit-learn's ``StratifiedKFold`` + ``cross_val_score``, folds
``min(5, rows of the smallest class)``, shuffled with a fixed seed) on the features the ranking
already extracted (nothing is extracted again: the reusers see :class:`CachedFeatures`, whose
``features`` looks rows up by index). The highest mean wins; ties go to the earlier, simpler pair
(order: probe on #1, concat_probe, probe_ensemble, probe on #2, #3). ``time_budget_s`` (seconds
since ``started``) stops the comparison: pairs not reached are listed. When a class has fewer than
2 rows no fold split exists, and the top-ranked extractor's probe is chosen without CV, with a note.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np

DEFAULT_SINGLES = 3


class CachedFeatures:
    """Stands in for a feature extractor inside cross-validation: ``features(idx)`` is the rows
    ``idx`` (integer row indices) of the features extracted once during ranking."""

    def __init__(self, learnware_id: str, name: str, matrix: np.ndarray):
        self.learnware_id, self.name, self.matrix = learnware_id, name, matrix

    def features(self, idx) -> np.ndarray:
        return self.matrix[np.asarray(idx, dtype=np.int64).ravel()]


@dataclass
class Pair:
    """One (adaptation, extractors) pair and, once tried, its CV accuracies per fold."""

    reuser: str
    ids: tuple[str, ...]
    names: tuple[str, ...]
    scores: np.ndarray | None = None
    seconds: float = 0.0

    @property
    def label(self) -> str:
        if self.reuser == "linear_probe":
            return f"linear_probe on {self.names[0]}"
        return f"{self.reuser} over top {len(self.ids)} ({', '.join(self.names)})"

    @property
    def mean(self) -> float:
        return float(np.mean(self.scores))


@dataclass
class Choice:
    """The winner ``pair``, every pair ``tried`` (with scores), those ``untried`` and ``notes`` for ``explain()``."""

    pair: Pair
    tried: list[Pair] = field(default_factory=list)
    untried: list[Pair] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def candidate_pairs(ranked: list[tuple[str, str]], k: int, n_single: int = DEFAULT_SINGLES) -> list[Pair]:
    """The bounded pairs for ``ranked`` ``(learnware_id, name)`` best first: probe on #1, then (when
    ``k`` and the ranking allow 2 or more) concat_probe and probe_ensemble over the top ``k``, then probes on #2..#n_single."""
    pairs = [Pair("linear_probe", (ranked[0][0],), (ranked[0][1],))]
    top = ranked[:k]
    if len(top) >= 2:
        ids, names = tuple(i for i, _ in top), tuple(n for _, n in top)
        pairs += [Pair("concat_probe", ids, names), Pair("probe_ensemble", ids, names)]
    pairs += [Pair("linear_probe", (i,), (n,)) for i, n in ranked[1:n_single]]
    return pairs


def choose_pair(ranked: list[tuple[str, str]], features: dict[str, np.ndarray], y, *, k: int,
                n_single: int = DEFAULT_SINGLES, time_budget_s: float | None = None,
                started: float | None = None, seed: int = 0) -> Choice:
    """Compare the pairs of :func:`candidate_pairs` by stratified CV accuracy on ``features`` (by
    learnware id, rows aligned with ``y``) and return the :class:`Choice` (module doc)."""
    from sklearn.model_selection import StratifiedKFold, cross_val_score

    from modelreuse.reuse.base import EXTRACTOR_REUSERS

    y = np.asarray(y).astype(str)
    pairs = candidate_pairs(ranked, k, n_single)
    _, counts = np.unique(y, return_counts=True)
    if counts.min() < 2:
        return Choice(pairs[0], untried=pairs[1:], notes=[
            f"coupled choice: not cross-validated (a class has {counts.min()} labelled row; stratified folds need 2 "
            f"per class): the top-ranked extractor's linear probe is used"
            + (f". Add labelled rows to compare {len(pairs)} (model, adaptation) pairs" if len(pairs) > 1 else "")])
    folds = int(min(5, counts.min()))
    cv = StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed)
    started = time.perf_counter() if started is None else started
    index = np.arange(len(y))
    tried, untried = [], []
    for pair in pairs:
        if tried and time_budget_s is not None and time.perf_counter() - started > time_budget_s:
            untried.append(pair)
            continue
        cached = [CachedFeatures(i, n, features[i]) for i, n in zip(pair.ids, pair.names)]
        cls = EXTRACTOR_REUSERS.get(pair.reuser)
        estimator = cls(cached[0]) if pair.reuser == "linear_probe" else cls(extractors=tuple(cached))
        t0 = time.perf_counter()
        pair.scores = cross_val_score(estimator, index, y, cv=cv, scoring="accuracy")
        pair.seconds = time.perf_counter() - t0
        tried.append(pair)
    best = max(tried, key=lambda p: p.mean)  # max keeps the first of equal means: the simpler, earlier pair
    notes = [f"coupled choice: {len(tried)} (model, adaptation) pairs compared by {folds}-fold stratified CV accuracy "
             "on your labelled rows (features from the ranking, not extracted again):"]
    notes += [f"  {p.label}: CV accuracy {p.mean:.3f} ± {np.std(p.scores):.3f} ({p.seconds:.2f} s)" for p in tried]
    if untried:
        notes.append(f"  not tried (time budget of {time_budget_s} s spent): {', '.join(p.label for p in untried)}")
    others = [p for p in tried if p is not best]
    if others:
        runner = max(others, key=lambda p: p.mean)
        notes.append(f"winner: {best.label}: best CV accuracy {best.mean:.3f} vs {runner.mean:.3f} for {runner.label}"
                     + (" (a tie goes to the earlier, simpler pair)" if runner.mean == best.mean else ""))
    else:
        notes.append(f"winner: {best.label}: the only pair tried (CV accuracy {best.mean:.3f})")
    return Choice(best, tried, untried, notes)
