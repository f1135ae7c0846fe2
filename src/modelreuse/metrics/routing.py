"""Routing evaluation: RouterBench's cost-quality metrics and RouteLLM's strong/weak metrics.

RouterBench (Hu et al. 2024, "RouterBench: A Benchmark for Multi-LLM Routing System"; checked
against ``withmartian/routerbench`` ``evaluation``): a router swept over its willingness to pay
gives points (mean cost per query, mean quality). Mixing two operating points at random reaches any
point on the segment between them, and a point that costs more for less quality is never chosen,
so a router is summarised by its **non-decreasing convex hull** (NDCH) R~(c):
:func:`non_decreasing_convex_hull`. Then

* ``AIQ = 1 / (c_max - c_min) * integral_{c_min}^{c_max} R~(c) dc`` (:func:`aiq`), with the same
  ``[c_min, c_max]`` for every router on a task (we use the cheapest and the most expensive single
  model's mean cost) and R~ held constant outside the router's own cost range (``np.interp``);
* peak quality: the best point's quality;
* QNC (query-normalised cost, :func:`qnc`): the lowest mean cost per query at which R~ reaches a
  given quality (we use the best single model's quality), None if it never does;
* the **Zero router** is the NDCH of the single models' own points: routing with no knowledge of
  the query, the baseline a router must beat in AIQ.

RouteLLM (Ong et al. 2024, "RouteLLM: Learning to Route LLMs with Preference Data"; checked
against ``lm-sys/RouteLLM`` ``routellm/evals``): with a strong and a weak model and a router that
sends the fraction ``f`` of queries (those it ranks highest) to the strong one,
``PGR(f) = (q(f) - q_weak) / (q_strong - q_weak)``. APGR is the area under PGR over f in [0, 1]
(:func:`apgr`; exact trapezoid over all n+1 call fractions); random routing gives 0.5 in
expectation. ``CPT(x%)`` is the smallest f with ``PGR(f) >= x``. The optimal router sends exactly
the queries the weak model fails and the strong one solves.
"""

from __future__ import annotations

import numpy as np

from modelreuse.errors import RoutingDataError


def non_decreasing_convex_hull(costs, qualities) -> tuple[np.ndarray, np.ndarray]:
    """Vertices of the NDCH of points ``(cost, quality)``, by increasing cost: the upper convex
    hull from the cheapest point (best quality among equally cheap ones) up to the best point."""
    c, q = np.asarray(costs, dtype=np.float64), np.asarray(qualities, dtype=np.float64)
    if c.shape != q.shape or c.size == 0 or not (np.isfinite(c).all() and np.isfinite(q).all()):
        raise RoutingDataError("costs and qualities must be equal-length, non-empty and finite")
    order = np.lexsort((-q, c))
    hull: list[tuple[float, float]] = []
    for point in zip(c[order], q[order]):
        if hull and point[0] == hull[-1][0]:
            continue  # same cost, lower or equal quality
        while len(hull) >= 2 and _cross(hull[-2], hull[-1], point) >= 0:
            hull.pop()
        hull.append(point)
    best = int(np.argmax([p[1] for p in hull]))
    vertices = np.asarray(hull[: best + 1])
    return vertices[:, 0], vertices[:, 1]


def _cross(o, a, b) -> float:
    """> 0 when ``o -> a -> b`` turns left (``a`` lies below the chord ``o-b``)."""
    return (a[0] - o[0]) * (b[1] - o[1]) - (a[1] - o[1]) * (b[0] - o[0])


def aiq(costs, qualities, c_min: float, c_max: float) -> float:
    """Average quality of the NDCH over ``[c_min, c_max]`` (module doc); exact for the piecewise
    linear hull."""
    if not c_max > c_min:
        raise RoutingDataError(f"need c_max > c_min, got [{c_min}, {c_max}]")
    hc, hq = non_decreasing_convex_hull(costs, qualities)
    grid = np.unique(np.concatenate([[c_min, c_max], hc[(hc > c_min) & (hc < c_max)]]))
    values = np.interp(grid, hc, hq)
    return float(np.sum((values[1:] + values[:-1]) / 2 * np.diff(grid)) / (c_max - c_min))


def qnc(costs, qualities, target: float) -> float | None:
    """Lowest cost at which the NDCH reaches quality ``target`` (None if it never does)."""
    hc, hq = non_decreasing_convex_hull(costs, qualities)
    if hq[-1] < target:
        return None
    if hq[0] >= target:
        return float(hc[0])
    i = int(np.argmax(hq >= target))
    return float(hc[i - 1] + (target - hq[i - 1]) * (hc[i] - hc[i - 1]) / (hq[i] - hq[i - 1]))


def pgr_curve(strong_first: np.ndarray, strong: np.ndarray, weak: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``(fractions sent to strong, PGR)`` at all n+1 cut-offs, sending queries to the strong model
    in the order ``strong_first`` (a score: higher = send to strong earlier; ties broken stably)."""
    strong, weak = np.asarray(strong, dtype=np.float64), np.asarray(weak, dtype=np.float64)
    gap = strong.mean() - weak.mean()
    if gap <= 0:
        raise RoutingDataError("the strong model must score higher on average than the weak one")
    order = np.argsort(-np.asarray(strong_first, dtype=np.float64), kind="stable")
    gain = np.concatenate([[0.0], np.cumsum((strong - weak)[order])]) / len(strong)
    return np.arange(len(strong) + 1) / len(strong), gain / gap


def apgr(strong_first, strong, weak) -> float:
    """Area under PGR over the fraction of strong calls (trapezoid over all cut-offs)."""
    f, pgr = pgr_curve(strong_first, strong, weak)
    return float(np.sum((pgr[1:] + pgr[:-1]) / 2 * np.diff(f)))


def cpt(strong_first, strong, weak, pgr_target: float) -> float:
    """Smallest fraction of strong calls with ``PGR >= pgr_target`` (e.g. 0.5 for CPT(50%))."""
    f, pgr = pgr_curve(strong_first, strong, weak)
    reached = np.flatnonzero(pgr >= pgr_target - 1e-12)
    return float(f[reached[0]]) if reached.size else 1.0


def optimal_strong_first(strong, weak) -> np.ndarray:
    """The optimal router's order: queries the strong model wins first, ties next, losses last."""
    return np.asarray(strong, dtype=np.float64) - np.asarray(weak, dtype=np.float64)
