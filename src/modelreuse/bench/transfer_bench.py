"""``modelreuse bench transfer``: every transferability metric ranking a real model zoo on real targets.

Two zoos (``modality``): text (:mod:`modelreuse.zoo.text`: 28 candidates, 12 targets) and
image (:mod:`modelreuse.zoo.image`: 30 candidates, 21 eligible per target, 15 targets). For
each target and each candidate ranked on it: the ground truth (the linear-probe protocol of
:func:`~modelreuse.selection.transferability.linear_probe.probe_accuracy`, full training split, test
accuracy) and every metric, ranking through
:class:`~modelreuse.selection.transferability_selector.TransferabilitySelector`, on a seeded subsample of at most ``max_rows`` training rows
(metrics are meant to be cheap; the truth is not). Per metric: weighted Kendall tau in both
conventions, Hit@1, Hit@3 and seconds per target (all candidates), averaged over targets.

Beyond single metrics, :class:`~modelreuse.selection.transferability_ensemble.MetricEnsembleRanker`
is evaluated leave-one-target-out: fitted on the other targets' metric scores, candidate
dimensions, row counts and truths, scored on the held-out one; a LogME-only ensemble and a
no-metric ablation (size meta-features alone) are reported beside it.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np

from modelreuse.metrics.ranking import hit_at_k, weighted_tau_model_spider, weighted_tau_sfda
from modelreuse.selection.transferability.linear_probe import probe_accuracy
from modelreuse.selection.transferability_ensemble import MetricEnsembleRanker, RankingTask
from modelreuse.selection.transferability_selector import Candidate, TransferabilitySelector
from modelreuse.zoo.base import TransferTarget

BENCH_METRICS = ("hscore", "reg_hscore", "nce", "leep", "nleep_float64", "logme", "gbc", "gbc_diagonal", "transrate",
                 "sfda", "ncti", "pactran", "lfc", "knn", "linear_probe")


def score_target(target: TransferTarget, metrics=BENCH_METRICS, max_rows: int = 2000, seed: int = 0) -> dict:
    """Truth and every metric's oriented scores for all of a target's candidates: the ground truth
    is :func:`~modelreuse.selection.transferability.linear_probe.probe_accuracy` on the full
    splits, the metrics rank the candidates through
    :class:`~modelreuse.selection.transferability_selector.TransferabilitySelector` on a seeded
    subsample of at most ``max_rows`` training rows (a candidate's ``features(rows)`` is its
    frozen output on those rows)."""
    rng = np.random.default_rng(seed)
    rows = np.sort(rng.choice(len(target.y_train), min(max_rows, len(target.y_train)), replace=False))
    names, truth, dims, candidates = [], [], [], []
    for out in target.candidates():
        names.append(out.name)
        dims.append(out.train_features.shape[1])
        truth.append(probe_accuracy((out.train_features, target.y_train), (out.test_features, target.y_test)))
        candidates.append(Candidate(out.name, features=out.train_features[rows].__getitem__,
                                    source_proba=out.train_proba[rows].__getitem__))
    subsample, y = np.arange(len(rows)), target.y_train[rows]
    scores, seconds = {}, {}
    for name in metrics:
        ranking = TransferabilitySelector(name).rank(candidates, subsample, y)
        by_name = {entry.name: entry for entry in ranking}
        scores[name] = np.array([by_name[n].score for n in names])
        seconds[name] = float(sum(entry.details["seconds"] for entry in ranking))
    return {"models": names, "truth": np.asarray(truth), "dims": dims, "n_rows": len(target.y_train),
            "scores": scores, "seconds": seconds}


def _evaluate(scores: np.ndarray, truth: np.ndarray) -> dict:
    return {"weighted_tau_model_spider": weighted_tau_model_spider(scores, truth),
            "weighted_tau_sfda": weighted_tau_sfda(scores, truth),
            "hit@1": hit_at_k(scores, truth, 1), "hit@3": hit_at_k(scores, truth, 3)}


def _mean(rows: list[dict]) -> dict:
    return {k: float(np.mean([r[k] for r in rows])) for k in rows[0]}


ZOOS = ("text", "image")


def load_zoo(modality: str, data_root: str | Path, cache: Path, seed: int = 0,
             progress: Callable[[str], None] = lambda _: None) -> tuple[list[str], list[TransferTarget]]:
    """The candidate names and targets of the ``text`` or ``image`` zoo."""
    if modality == "text":
        from modelreuse.zoo.text import text_targets

        return text_targets(data_root, cache, seed, progress)
    if modality == "image":
        from modelreuse.zoo.image import image_targets

        return image_targets(data_root, cache, seed, progress)
    raise ValueError(f"unknown zoo {modality!r}; choose one of {ZOOS}")


def run_transfer_bench(data_root: str | Path, cache: Path, modality: str = "text", max_rows: int = 2000, seed: int = 0,
                       progress: Callable[[str], None] = lambda _: None, checkpoint: Path | None = None) -> dict:
    """The whole benchmark (module doc); returns the JSON-ready report. With ``checkpoint``, each
    target's scores are saved to that JSON file as soon as they are computed, and targets already
    saved there under the same protocol (modality, ``max_rows``, ``seed``, metrics) are not
    recomputed, so an interrupted run resumes."""
    models, targets = load_zoo(modality, data_root, cache, seed, progress)
    protocol = {"modality": modality, "max_rows": max_rows, "seed": seed, "metrics": list(BENCH_METRICS)}
    results = _read_checkpoint(checkpoint, protocol)
    for target in targets:
        if target.name in results:
            progress(f"target {target.name}: from the checkpoint")
            continue
        progress(f"target {target.name}")
        results[target.name] = score_target(target, max_rows=max_rows, seed=seed)
        _write_checkpoint(checkpoint, protocol, results)
    results = {t.name: results[t.name] for t in targets}
    per_metric = {}
    for metric in BENCH_METRICS:
        rows = [_evaluate(r["scores"][metric], r["truth"]) for r in results.values()]
        per_metric[metric] = _mean(rows) | {"seconds_per_target": float(np.mean([r["seconds"][metric] for r in results.values()])),
                                            "per_target_weighted_tau_model_spider": {
                                                t: row["weighted_tau_model_spider"] for t, row in zip(results, rows)}}
    raw = {t: {"models": r["models"], "truth": r["truth"].tolist(), "dims": r["dims"], "n_rows": r["n_rows"],
               "scores": {m: r["scores"][m].tolist() for m in BENCH_METRICS}} for t, r in results.items()}
    report = {"modality": modality, "zoo": models,
              "targets": {t.name: {"n_train": len(t.y_train), "n_test": len(t.y_test),
                                   "n_candidates": len(results[t.name]["models"]),
                                   "best_model": results[t.name]["models"][int(np.argmax(results[t.name]["truth"]))],
                                   "truth_range": [float(results[t.name]["truth"].min()),
                                                   float(results[t.name]["truth"].max())]}
                          for t in targets},
              "protocol": {"max_metric_rows": max_rows, "seed": seed, "ground_truth": "linear probe (C=1, tol=1e-6, max_iter=10000), full train split"},
              "metrics": per_metric, "raw": raw}
    return report | ensemble_report(raw, per_metric)


def _read_checkpoint(path: Path | None, protocol: dict) -> dict:
    """Per-target results saved under ``protocol`` (empty when there is no file, or another protocol)."""
    if path is None or not Path(path).is_file():
        return {}
    from modelreuse._safeio import read_json
    from modelreuse.errors import InvalidTaskDataError

    saved = read_json(path, InvalidTaskDataError, max_bytes=64 * 1024 * 1024)
    if saved.get("protocol") != protocol:
        return {}
    return {t: {**r, "truth": np.asarray(r["truth"]), "scores": {m: np.asarray(v) for m, v in r["scores"].items()}}
            for t, r in saved["targets"].items()}


def _write_checkpoint(path: Path | None, protocol: dict, results: dict) -> None:
    if path is None:
        return
    import json

    from modelreuse.config import write_cache_file

    plain = {t: {**r, "truth": r["truth"].tolist(), "scores": {m: v.tolist() for m, v in r["scores"].items()}}
             for t, r in results.items()}
    write_cache_file(Path(path), lambda tmp: tmp.write_text(json.dumps({"protocol": protocol, "targets": plain})))


def ensemble_report(raw: dict, per_metric: dict) -> dict:
    """Leave-one-target-out ensembles (all metrics; LogME alone; no metric at all, as an
    ablation) with the size meta-features, against the best single metric (Model Spider
    weighted tau)."""
    ensembles = {"ensemble": leave_one_target_out(raw), "ensemble_logme_only": leave_one_target_out(raw, ("logme",)),
                 "size_features_only": leave_one_target_out(raw, ())}
    best = max(per_metric, key=lambda m: per_metric[m]["weighted_tau_model_spider"])
    key = "weighted_tau_model_spider"
    return ensembles | {"best_single_metric": best,
                        "ensemble_gain_over_best_single": ensembles["ensemble"][key] - per_metric[best][key]}


def leave_one_target_out(raw: dict, metrics=BENCH_METRICS) -> dict:
    """MetricEnsembleRanker fitted on all targets but one, evaluated on that one; averaged. The
    ranker picks its ridge penalty by an inner leave-one-out over the training targets only."""
    def scores(r: dict) -> np.ndarray:
        return np.column_stack([r["scores"][m] for m in metrics]) if metrics else np.zeros((len(r["truth"]), 0))

    tasks = {t: RankingTask(scores(r), np.asarray(r["dims"]), r["n_rows"], np.asarray(r["truth"])) for t, r in raw.items()}
    rows, alphas = [], []
    for held_out, task in tasks.items():
        ranker = MetricEnsembleRanker().fit([v for t, v in tasks.items() if t != held_out])
        rows.append(_evaluate(ranker.predict(task), task.truth))
        alphas.append(ranker.alpha_)
    full = MetricEnsembleRanker().fit(list(tasks.values()))
    names = list(metrics) + ["z_log_dim", "z_log_dim_x_log_n"]
    return _mean(rows) | {"alphas_chosen": alphas, "coefficients": dict(zip(names, map(float, full.coef_)))}
