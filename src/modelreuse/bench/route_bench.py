"""``modelreuse bench route``: routers and baselines on any routing-records table.

Protocol: fit on the ``train_split`` rows, score on the ``test_split`` rows; test rows missing a
score for any model are left out (counted in ``dropped_test_rows``). Scores are mean test score
per query in [0, 1]; ``macro`` is the mean over tasks of the per-task score (RouterDC's headline
number; restrict it with ``eval_tasks``). Costs are mean recorded USD per query (0 without costs).

* Baselines: ``oracle`` (best model per query, cheapest among ties), ``random`` (expectation over
  models), ``best_single`` (best mean training score), ``per_task_best`` (best model per task on
  train), ``cheapest`` / ``most_expensive`` (by mean training cost).
* Routers (``seeds`` fits each): default operating point (best predicted score), and a sweep of
  willingness to pay ``lam`` giving (cost, quality) points summarised per task by RouterBench's AIQ
  over ``[cheapest, most expensive single model]``, peak quality and QNC against the best single
  model (:mod:`modelreuse.metrics.routing`); the ``zero_router`` (single models' hull) is
  the AIQ baseline.
* Two-model collections (RouteLLM) also get APGR and CPT(50%) / CPT(80%) per router, with the
  ``random`` (0.5) and ``optimal`` references.
* Deferral curves (quality vs cost, one PNG per task) go to ``plots``.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from modelreuse.config import Progress
from modelreuse.metrics import routing as rm
from modelreuse.records.routing import RoutingRecords
from modelreuse.routing.base import ROUTERS, decide
from modelreuse.routing.router import Router

DEFAULT_ROUTERS = ("lookup", "knn", "mlp", "mf")
LAM_GRID = np.geomspace(1e-2, 1e5, 57)


def _quality_cost(chosen: np.ndarray, S: np.ndarray, C: np.ndarray) -> tuple[float, float]:
    rows = np.arange(len(chosen))
    return float(S[rows, chosen].mean()), float(C[rows, chosen].mean())


def _per_task(chosen, S, tasks) -> dict:
    rows = np.arange(len(chosen))
    return {t: float(S[rows[tasks == t], chosen[tasks == t]].mean()) for t in sorted(set(tasks))}


def _macro(per_task: dict, eval_tasks: Sequence[str] | None) -> float:
    keys = [t for t in (eval_tasks or per_task) if t in per_task]
    return float(np.mean([per_task[t] for t in keys])) if keys else float("nan")


def _sweep_points(predicted, decision_costs, S, C, mask) -> tuple[np.ndarray, np.ndarray]:
    """(cost, quality) of the router's choices on ``mask`` rows for every lam and for lam = inf."""
    P, Sm, Cm = predicted[mask], S[mask], C[mask]
    points = [_quality_cost(decide(P, decision_costs, lam=lam * max(decision_costs.max(), 1e-12)), Sm, Cm)
              for lam in LAM_GRID] + [_quality_cost(decide(P, decision_costs), Sm, Cm)]
    quality, cost = np.array(points).T
    return cost, quality


def _cost_metrics(predicted, decision_costs, S, C, tasks) -> dict:
    """AIQ, peak quality and QNC per task and overall (needs costs that differ between models)."""
    out = {}
    for name, mask in [("overall", np.ones(len(S), bool))] + [(t, tasks == t) for t in sorted(set(tasks))]:
        model_cost, model_quality = C[mask].mean(axis=0), S[mask].mean(axis=0)
        cost, quality = _sweep_points(predicted, decision_costs, S, C, mask)
        c_min, c_max = model_cost.min(), model_cost.max()
        out[name] = {"aiq": rm.aiq(cost, quality, c_min, c_max), "peak": float(quality.max()),
                     "qnc": rm.qnc(cost, quality, float(model_quality.max())), "points": [cost, quality]}
    return out


def _zero_router(S, C, tasks) -> dict:
    """AIQ of the single models' own hull, overall and per task."""
    out = {}
    for name, mask in [("overall", np.ones(len(S), bool))] + [(t, tasks == t) for t in sorted(set(tasks))]:
        cost, quality = C[mask].mean(axis=0), S[mask].mean(axis=0)
        out[name] = rm.aiq(cost, quality, cost.min(), cost.max())
    return out


def _pair_metrics(strong_first, S, strong: int) -> dict:
    weak = 1 - strong
    return {"apgr": rm.apgr(strong_first, S[:, strong], S[:, weak]),
            "cpt50": rm.cpt(strong_first, S[:, strong], S[:, weak], 0.5),
            "cpt80": rm.cpt(strong_first, S[:, strong], S[:, weak], 0.8)}


def _baselines(train: RoutingRecords, S, C, tasks, decision_costs, eval_tasks) -> dict:
    S_train, rows = train.scores(), np.arange(len(S))
    best = int(np.nanargmax(np.nanmean(S_train, axis=0)))
    lookup = Router("lookup").fit(train, np.zeros((len(S_train), 1)))
    choices = {
        "oracle": decide(S, C.mean(axis=0)),
        "best_single": np.full(len(S), best),
        "per_task_best": decide(lookup.predict(tasks=tasks, embeddings=np.zeros((len(S), 1)))),
        "cheapest": np.full(len(S), int(np.argmin(decision_costs))),
        "most_expensive": np.full(len(S), int(np.argmax(decision_costs))),
    }
    out = {}
    for name, chosen in choices.items():
        per_task = _per_task(chosen, S, tasks)
        out[name] = {"score": float(S[rows, chosen].mean()), "cost": float(C[rows, chosen].mean()),
                     "macro": _macro(per_task, eval_tasks), "per_task": per_task}
    out["best_single"]["model"] = train.models[best]
    random_task = {t: float(S[tasks == t].mean()) for t in sorted(set(tasks))}
    out["random"] = {"score": float(S.mean()), "cost": float(C.mean()), "macro": _macro(random_task, eval_tasks),
                     "per_task": random_task}
    return out


def run_route_bench(records: RoutingRecords, routers: Sequence[str] = DEFAULT_ROUTERS, train_split: str = "train",
                    test_split: str = "test", seeds: Sequence[int] = (0, 1, 2), cache: Path | None = None,
                    eval_tasks: Sequence[str] | None = None, plots: Path | None = None,
                    progress: Progress | None = None) -> dict:
    """The whole benchmark (module doc); returns the JSON-ready report."""
    train, test = records.split(train_split), records.split(test_split)
    S_all = test.scores()
    complete = ~np.isnan(S_all).any(axis=1)
    S, tasks = S_all[complete], test.tasks[complete]
    C = test.costs()[complete] if test.has_costs else np.zeros_like(S)
    decision_costs = np.nan_to_num(np.nanmean(train.costs(), axis=0)) if train.has_costs else np.zeros(S.shape[1])
    has_costs = bool(np.ptp(C.mean(axis=0)) > 0)
    _report(progress, "embedding queries")
    X_train = encode_cached(train, cache)
    X_test = encode_cached(test, cache)[complete]
    report = {"models": records.models, "n_train": len(train.table), "n_test": int(complete.sum()),
              "dropped_test_rows": int((~complete).sum()), "eval_tasks": list(eval_tasks or sorted(set(tasks))),
              "baselines": _baselines(train, S, C, tasks, decision_costs, eval_tasks), "routers": {}}
    strong = int(np.argmax(np.nanmean(train.scores(), axis=0))) if S.shape[1] == 2 else None
    if strong is not None:
        report["pair_references"] = {"random_apgr": 0.5, "optimal": _pair_metrics(
            rm.optimal_strong_first(S[:, strong], S[:, 1 - strong]), S, strong), "strong_model": records.models[strong]}
    curves = {}
    for name in routers:
        runs = []
        for seed in seeds:
            _report(progress, f"router {name} seed {seed}")
            score_model = ROUTERS.get(name)()
            seeded = "seed" in score_model.get_params()
            if seeded:
                score_model.set_params(seed=seed)
            predicted = Router(score_model).fit(train, X_train).predict(embeddings=X_test, tasks=tasks)
            runs.append(_evaluate_router(predicted, S, C, tasks, decision_costs, has_costs, strong, eval_tasks))
            if len(runs) == 1 and has_costs:
                curves[name] = {t: m["points"] for t, m in runs[0]["cost_metrics"].items()}
            if not seeded:
                break  # deterministic router: one fit is every seed
        report["routers"][name] = _aggregate(runs)
    if has_costs:
        report["zero_router"] = _zero_router(S, C, tasks)
        if plots is not None:
            report["plots"] = write_deferral_plots(curves, S, C, tasks, records.models, plots)
    return report


def _report(progress: Progress | None, message: str) -> None:
    if progress is not None:
        progress(message)


def encode_cached(records: RoutingRecords, cache: Path | None) -> np.ndarray:
    from modelreuse.routing.encoder import encode_queries

    return encode_queries(records.prompts, cache)


def _evaluate_router(predicted, S, C, tasks, decision_costs, has_costs, strong, eval_tasks) -> dict:
    chosen = decide(predicted)
    score, cost = _quality_cost(chosen, S, C)
    per_task = _per_task(chosen, S, tasks)
    run = {"score": score, "cost": cost, "macro": _macro(per_task, eval_tasks), "per_task": per_task}
    if has_costs:
        run["cost_metrics"] = _cost_metrics(predicted, decision_costs, S, C, tasks)
    if strong is not None:
        run |= _pair_metrics(predicted[:, strong] - predicted[:, 1 - strong], S, strong)
    return run


def _aggregate(runs: list[dict]) -> dict:
    """Mean and std over seeds of every number; per-task scores and AIQs averaged."""
    keys = [k for k in ("score", "cost", "macro", "apgr", "cpt50", "cpt80") if k in runs[0]]
    out = {k: float(np.mean([r[k] for r in runs])) for k in keys}
    out |= {f"{k}_std": float(np.std([r[k] for r in runs])) for k in keys}
    out["per_task"] = {t: float(np.mean([r["per_task"][t] for r in runs])) for t in runs[0]["per_task"]}
    out["n_seeds"] = len(runs)
    if "cost_metrics" in runs[0]:
        cm = [r["cost_metrics"] for r in runs]
        out["aiq"] = float(np.mean([c["overall"]["aiq"] for c in cm]))
        out["aiq_std"] = float(np.std([c["overall"]["aiq"] for c in cm]))
        out["per_task_aiq"] = {t: float(np.mean([c[t]["aiq"] for c in cm])) for t in cm[0] if t != "overall"}
        out["peak"] = float(np.mean([c["overall"]["peak"] for c in cm]))
        qncs = [c["overall"]["qnc"] for c in cm]
        out["qnc"] = None if any(q is None for q in qncs) else float(np.mean(qncs))
    else:
        out["aiq"] = None
    return out


def write_deferral_plots(curves: dict, S, C, tasks, models, folder: Path) -> list[str]:
    """One PNG per task (and overall): each router's NDCH and the single models' points."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for task in ["overall"] + sorted(set(tasks)):
        mask = np.ones(len(S), bool) if task == "overall" else tasks == task
        fig, ax = plt.subplots(figsize=(6, 4))
        ax.scatter(C[mask].mean(axis=0), S[mask].mean(axis=0), color="grey", s=15, label="single models")
        hc, hq = rm.non_decreasing_convex_hull(C[mask].mean(axis=0), S[mask].mean(axis=0))
        ax.plot(hc, hq, "--", color="grey", label="zero router")
        for name, per_task in curves.items():
            hc, hq = rm.non_decreasing_convex_hull(*per_task[task])
            ax.plot(hc, hq, marker=".", label=name)
        ax.set(xscale="log", xlabel="mean cost per query (USD)", ylabel="mean score", title=f"deferral curve: {task}")
        ax.legend(fontsize=7)
        path = folder / f"deferral_{task.replace('/', '_')}.png"
        fig.savefig(path, dpi=110, bbox_inches="tight")
        plt.close(fig)
        written.append(str(path))
    return written
