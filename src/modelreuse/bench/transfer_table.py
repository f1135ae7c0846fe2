"""Recompute the Model Spider single-source table: weighted Kendall tau of nine transferability
metrics against fine-tuning accuracy, 10 ImageNet models x 8 target datasets.

Inputs (``<data>/transferability/model_spider/``, staged from zhangyikaii/Model-Spider d2a53e4d):
``baseline_results.csv`` (the metric values Model Spider computed; PACTran already negated) and
``ground_truth_single_source_zoo.csv`` (fine-tuning top-1 accuracy, the LogME paper's numbers).
Both weighted-tau conventions are computed (:mod:`modelreuse.metrics.ranking`); Model
Spider's README table uses :func:`weighted_tau_model_spider`.

What it is compared with: the Model-Spider README table itself is not staged in the data. The
comparison columns are (a) ``recomputed_weighted_tau.txt``, the staging script's own recomputation,
which its MANIFEST says matches the README in 69 of 72 cells (Aircraft LEEP / LogME / NLEEP
differ), and (b) the weighted tau tllib's README reports for H-score, LEEP, LogME and NCE, which
its MANIFEST flags as not reproducible from tllib's own columns.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from modelreuse.metrics.ranking import weighted_tau_model_spider, weighted_tau_sfda

METRIC_COLUMNS = ("H-Score", "LEEP", "LogME", "NCE", "NLEEP", "OTCE", "PACTranDirichlet", "GBC", "LFC")
CONVENTIONS = {"model_spider": weighted_tau_model_spider, "sfda": weighted_tau_sfda}
STAGED_BLOCKS = {"scipy default weightedtau(score, gt)": "sfda", "weightedtau(gt, score, rank=None)": "model_spider"}
TLLIB_NAMES = {"hscore": "H-Score", "leep": "LEEP", "logme": "LogME", "nce": "NCE"}
TLLIB_DATASETS = {"OxfordIIITPets": "Pet", "StanfordCars": "Cars"}


def recompute(data_root: str | Path) -> dict:
    """Both conventions for every (metric, dataset), with means, plus the staged comparisons."""
    root = Path(data_root) / "transferability" / "model_spider"
    scores = pd.read_csv(root / "baseline_results.csv")
    truth = pd.read_csv(root / "ground_truth_single_source_zoo.csv")
    merged = scores.merge(truth.rename(columns={"dataset": "Dataset", "model": "Model"}), on=["Dataset", "Model"],
                          how="inner", validate="one_to_one")
    datasets = list(dict.fromkeys(scores["Dataset"]))
    tables = {}
    for convention, fn in CONVENTIONS.items():
        table = {}
        for metric in METRIC_COLUMNS:
            row = {d: fn(g[metric].to_numpy(), g["finetune_score"].to_numpy()) for d, g in merged.groupby("Dataset")}
            row = {d: row[d] for d in datasets}
            table[metric] = row | {"mean": float(np.mean(list(row.values())))}
        tables[convention] = table
    staged = parse_staged(root / "recomputed_weighted_tau.txt", datasets)
    return {"datasets": datasets, "n_models": int(merged.groupby("Dataset").size().min()), "ours": tables,
            "staged_recomputation": staged, "max_abs_diff_vs_staged": _max_diff(tables, staged),
            "tllib_reported": tllib_reported(Path(data_root) / "transferability" / "tllib", datasets)}


def parse_staged(path: Path, datasets: list[str]) -> dict:
    """The two blocks of ``recomputed_weighted_tau.txt`` as ``{convention: {metric: {dataset: v}}}``
    (its header truncates dataset names to 9 characters; columns are matched by prefix)."""
    blocks, current, header = {}, None, None
    for line in path.read_text().splitlines():
        key = next((c for title, c in STAGED_BLOCKS.items() if line.startswith(title)), None)
        if key:
            current, header = key, None
            blocks[current] = {}
        elif current and line.startswith("metric"):
            header = [next(d for d in datasets if d.startswith(h)) if h != "mean" else "mean" for h in line.split()[1:]]
        elif current and header and line.strip():
            name, *values = line.split()
            blocks[current][name] = dict(zip(header, map(float, values)))
    return blocks


def tllib_reported(root: Path, datasets: list[str]) -> dict:
    """tllib README's reported weighted tau, ``{metric: {dataset: v}}`` (not reproducible; module doc)."""
    path = root / "model_selection_reported_correlations.csv"
    if not path.is_file():
        return {}
    table = pd.read_csv(path)
    table = table[table["stat"].str.fullmatch("Weighted Tau")]
    out: dict = {}
    for _, row in table.iterrows():
        dataset = TLLIB_DATASETS.get(row["dataset"], row["dataset"])
        for col, metric in TLLIB_NAMES.items():
            if dataset in datasets:
                out.setdefault(metric, {})[dataset] = float(row[col])
    return out


def _max_diff(ours: dict, staged: dict) -> dict:
    return {conv: max(abs(ours[conv][m][d] - v) for m, row in staged[conv].items() for d, v in row.items())
            for conv in staged}


def _format_row(name: str, values: list[float | None]) -> str:
    return f"{name:26s}" + "".join(f"{'-':>11s}" if v is None else f"{v:11.3f}" for v in values)


def render(report: dict) -> str:
    """Plain-text table: per metric, ours beside the staged reference for each convention."""
    cols = report["datasets"] + ["mean"]
    lines = []
    for conv, label in (("model_spider", "weightedtau(acc, score, rank=None)  [Model Spider README convention]"),
                        ("sfda", "weightedtau(score, acc)  [SFDA / NCTI / EMMS convention]")):
        lines += ["", label, f"{'metric':26s}" + "".join(f"{c:>11s}" for c in cols)]
        for metric in METRIC_COLUMNS:
            lines.append(_format_row(metric, [report["ours"][conv][metric][c] for c in cols]))
            ref = report["staged_recomputation"].get(conv, {}).get(metric)
            if ref:
                lines.append(_format_row("  staged reference", [ref.get(c) for c in cols]))
            if conv == "sfda" and metric in report["tllib_reported"]:
                row = report["tllib_reported"][metric]
                lines.append(_format_row("  tllib README (reported)", [row.get(c) for c in cols]))
    return "\n".join(lines)


__all__ = ["recompute", "render", "parse_staged", "METRIC_COLUMNS"]
