"""The PAVE benchmark's report: per-task rows in, the paper's tables, goals and plot out.

:func:`summarise` turns the per-task rows of :mod:`modelreuse.bench.pave_bench` into the
aggregates of the paper's tables -- mean per column, average rank, PAVE's win/tie/loss against
every column (a tie is an equal score at the tables' three decimals), how often PAVE's pick scores
as the oracle, how often a corrupted twin is preferred -- for the main setting (Tables A5/A6) and
for "beyond the original functionality" (Table 1), the approximation check (Figure 3 / Table A9)
and the speed figures; :func:`goals` sets them beside issue 18's goals and the values the paper
prints (:data:`PAPER`). :class:`PAVEReport` renders them and draws the Figures A7/A8 plot.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from modelreuse.bench.report import Report

TIE = 0.0005
MAIN_COLUMNS = ("finetune_base", "head_base", "random", "rkme", "pave", "oracle")
COLUMN_TITLES = {"finetune_base": "fine-tuned base", "head_base": "base + new head", "random": "Random",
                 "rkme": "RKME", "pave": "PAVE", "oracle": "Oracle"}

#: Values the paper prints (seed 002_d24d7a0b2bfb49e5), for comparison only; ours are re-derived
#: from the run. NLP: RoBERTa-base learnwares; CV: ViT-B-32 learnwares.
PAPER = {
    "text": {"oracle_hits": "14/18 (Table A5, section 4.2.1)", "main_mean": {
                 "finetune_base (RoBERTa-B)": 0.682, "random": 0.535, "rkme": 0.736, "pave": 0.776, "oracle": 0.791},
             "beyond_mean": {"finetune_base (RoBERTa-B)": 0.682, "random": 0.668, "rkme": 0.659, "pave": 0.709,
                             "oracle": 0.739},
             "beyond_gain_over_rkme": "7.59% relative (Table 1)",
             "approximation_performance_ratio": "99.4% (Table A9, mode c vs a)",
             "vector_entries": "0.42M (Table A9)"},
    "image": {"oracle_hits": "11/12 (Table A6)", "main_mean": {
                  "finetune_base (ViT-B-32)": 0.614, "random": 0.557, "rkme": 0.493, "pave": 0.887, "oracle": 0.894},
              "beyond_mean": {"finetune_base (ViT-B-32)": 0.614, "random": 0.611, "rkme": 0.541, "pave": 0.662,
                              "oracle": 0.700},
              "approximation_performance_ratio": "100.0% (Table A9, mode c vs a)",
              "vector_entries": "1.41M (Table A9)"},
}


def _mean(values: list[float]) -> float | None:
    return float(np.mean(values)) if values else None


def win_tie_loss(ours: list[float], theirs: list[float]) -> str:
    """``"w/t/l"`` of ``ours`` against ``theirs`` per task (equal at three decimals is a tie)."""
    diff = np.asarray(ours) - np.asarray(theirs)
    return f"{int((diff > TIE).sum())}/{int((np.abs(diff) <= TIE).sum())}/{int((diff < -TIE).sum())}"


def average_ranks(table: dict[str, list[float]]) -> dict[str, float]:
    """Mean rank (1 = best, ties share the mean rank) of each column over the tasks; Oracle left out."""
    from scipy.stats import rankdata

    names = [c for c in table if c != "oracle"]
    scores = np.round(np.array([table[c] for c in names]), 3)
    ranks = np.vstack([rankdata(-scores[:, t]) for t in range(scores.shape[1])]).T
    return {c: float(r.mean()) for c, r in zip(names, ranks)}


def _setting(table: dict[str, list[float]]) -> dict[str, Any]:
    """Means, average ranks and PAVE's win/tie/loss of one setting's ``column -> per-task scores``."""
    return {"mean": {c: _mean(v) for c, v in table.items()},
            "average_rank": average_ranks(table),
            "pave_win_tie_loss": {c: win_tie_loss(table["pave"], v) for c, v in table.items() if c != "pave"}}


def _columns(rows: list[dict[str, float | None]]) -> dict[str, list[float]]:
    """``column -> per-task scores`` of the columns every row has a score for (the fine-tuned
    base is ``None`` when it was not run)."""
    return {c: [r[c] for r in rows] for c in MAIN_COLUMNS if all(r.get(c) is not None for r in rows)}


def summarise(tasks: dict[str, dict], datasets: dict[str, dict]) -> dict[str, Any]:
    """The aggregates of the module doc over the per-task rows."""
    names = list(tasks)
    main = _columns([tasks[t]["main"] for t in names])
    beyond_as_is = _columns([tasks[t]["beyond"]["as_is"] for t in names])
    beyond_tuned = _columns([tasks[t]["beyond"]["finetuned"] for t in names])
    hits = [abs(tasks[t]["main"]["pave"] - tasks[t]["main"]["oracle"]) <= TIE for t in names]
    return {
        "tasks": len(names),
        "main": _setting(main) | {
            "pave_scores_as_oracle": f"{sum(hits)}/{len(hits)}",
            "pave_oracle_hit_rate": float(np.mean(hits)),
            "pave_picks_oracle_learnware": sum(set(tasks[t]["picks"]["pave"]) <= set(tasks[t]["picks"]["oracle"])
                                               for t in names),
            "rkme_scores_as_oracle": sum(abs(tasks[t]["main"]["rkme"] - tasks[t]["main"]["oracle"]) <= TIE
                                         for t in names)},
        "corrupted": _corrupted(tasks),
        "beyond": {"as_is": _setting(beyond_as_is), "finetuned": _setting(beyond_tuned)},
        "learnware_test_accuracy": {twin: _mean([d["learnwares"][twin]["test_accuracy"] for d in datasets.values()])
                                    for twin in ("good", "corrupted")},
    }


def _corrupted(tasks: dict[str, dict]) -> dict[str, Any]:
    """How often a corrupted twin is preferred (ties count half: the expectation over random
    tie-breaking): over the user's own dataset's twins, over every dataset's twin pair, and as the
    pick."""
    out = {}
    for method in ("pave", "rkme"):
        rows = [t["twins"][method] for t in tasks.values()]
        out[method] = {
            "own_twin_inverted_rate": _mean([r["own_inverted"] for r in rows]),
            "all_twin_pairs_inverted_rate": _mean([r["pairs_inverted"] for r in rows]),
            "top1_corrupted_rate": _mean([r["top1_corrupted"] for r in rows]),
        }
    return out


def speed(datasets: dict[str, dict], tasks: dict[str, dict]) -> dict[str, Any]:
    """Seconds per model and task vector (max and median), search milliseconds, spec sizes."""
    model_s = [d["learnwares"][t]["model_vector_s"] for d in datasets.values() for t in ("good", "corrupted")]
    task_s = [t["timing"]["task_vector_s"] for t in tasks.values()]
    first = next(iter(datasets.values()))
    return {
        "model_vector_s": {"median": float(np.median(model_s)), "max": float(np.max(model_s)),
                           "max_developer_rows": max(d["rows"]["developer"] for d in datasets.values())},
        "task_vector_s": {"median": float(np.median(task_s)), "max": float(np.max(task_s)),
                          "max_user_rows": max(t["rows"]["user"] for t in tasks.values())},
        "pave_search_ms_median": float(np.median([t["timing"]["pave_search_ms"] for t in tasks.values()])),
        "rkme_search_ms_median": float(np.median([t["timing"]["rkme_search_ms"] for t in tasks.values()])),
        "vector_length": first["spec"]["vector_length"],
        "vector_dtype": first["spec"]["dtype"],
        "bytes_per_spec_file": first["spec"]["file_bytes"],
        "load_average_during_run": [round(x, 2) for x in first.get("load_average", [])],
    }


def _goal(name: str, value: Any, target: str, met: bool | None, paper: Any = None) -> dict[str, Any]:
    return {"goal": name, "value": value, "target": target, "met": met, "paper": paper}


def goals(modality: str, summary: dict[str, Any], approx: dict[str, Any] | None, speeds: dict[str, Any]) -> list[dict]:
    """Issue 18's goals with this run's values, met or not, and the paper's printed values."""
    paper = PAPER[modality]
    main, beyond = summary["main"], summary["beyond"]["finetuned"]["mean"]
    gain = None if beyond["pave"] is None else beyond["pave"] - beyond["rkme"]
    out = [
        _goal("PAVE picks the oracle learnware (score equal to Oracle's)", main["pave_scores_as_oracle"],
              ">= 80% of user tasks" + ("" if modality == "text" else " (set for text)"),
              main["pave_oracle_hit_rate"] >= 0.8, paper["oracle_hits"]),
        _goal("corrupted twin preferred over its well-trained twin (user's own dataset)",
              summary["corrupted"]["pave"]["own_twin_inverted_rate"], "<= 5% of tasks",
              summary["corrupted"]["pave"]["own_twin_inverted_rate"] <= 0.05),
        _goal("beyond: PAVE (fine-tuned pick) mean - RKME (fine-tuned pick) mean", gain, ">= 0.03",
              None if gain is None else gain >= 0.03,
              paper.get("beyond_gain_over_rkme", paper["beyond_mean"])),
        _goal("beyond: PAVE (fine-tuned pick) mean vs fine-tuned base PTM",
              {"pave": beyond["pave"], "finetune_base": beyond.get("finetune_base")}, "PAVE >= fine-tuned base",
              None if beyond.get("finetune_base") is None else beyond["pave"] >= beyond["finetune_base"],
              paper["beyond_mean"]),
        _goal("model vector seconds (max) for <= 2,000 developer rows", speeds["model_vector_s"]["max"], "<= 60 s",
              speeds["model_vector_s"]["max"] <= 60),
        _goal("task vector seconds (max) at k shots per class", speeds["task_vector_s"]["max"], "<= 20 s",
              speeds["task_vector_s"]["max"] <= 20),
    ]
    if approx:
        rho = approx["spearman"]["b_vs_full"]
        out.append(_goal("Spearman(cos(B), cos(full fine-tune change))", rho, ">= 0.9", rho >= 0.9,
                         paper["approximation_performance_ratio"]))
    return out


@dataclass
class PAVEReport(Report):
    """The PAVE benchmark's result (module doc of :mod:`modelreuse.bench.pave_bench`)."""

    modality: str
    protocol: dict[str, Any]
    datasets: dict[str, dict]
    tasks: dict[str, dict]
    summary: dict[str, Any]
    approximation: dict[str, Any] | None
    speed: dict[str, Any]
    goals: list[dict]
    paper: dict[str, Any]

    def render(self) -> list:
        """The main and "beyond" tables (one row per user task), the aggregates and the goals."""
        from rich.table import Table

        out: list = []
        for title, key in (("Aligning learnwares with user tasks (Tables A5/A6)", "main"),
                           ("Beyond the original functionality, picks fine-tuned on the shots (Table 1)", "beyond")):
            setting = self.summary["main"] if key == "main" else self.summary["beyond"]["finetuned"]
            columns = list(setting["mean"])
            table = Table(*["task", *(COLUMN_TITLES[c] for c in columns)], title=title)
            for name, row in self.tasks.items():
                scores = row["main"] if key == "main" else row["beyond"]["finetuned"]
                table.add_row(name, *(f"{scores[c]:.3f}" for c in columns))
            table.add_row("mean", *(f"{setting['mean'][c]:.3f}" for c in columns))
            table.add_row("PAVE w/t/l", *(setting["pave_win_tie_loss"].get(c, "-") for c in columns))
            out.append(table)
        goals_table = Table("goal", "value", "target", "met", "paper", title="Goals (issue 18)")
        for g in self.goals:
            met = "n/a" if g["met"] is None else ("met" if g["met"] else "NOT met")
            goals_table.add_row(g["goal"], _short(g["value"]), g["target"], met, _short(g["paper"]))
        out.append(goals_table)
        return out

    def plot(self, path: str | Path) -> Path:
        """Scores normalised to the Oracle per user task, one bar per column (Figures A7/A8)."""
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        names = list(self.tasks)
        columns = [c for c in self.summary["main"]["mean"] if c != "oracle"]
        fig, ax = plt.subplots(figsize=(max(8.0, 0.7 * len(names)), 4.0))
        width = 0.8 / len(columns)
        for i, column in enumerate(columns):
            ratios = [self.tasks[t]["main"][column] / max(self.tasks[t]["main"]["oracle"], 1e-12) for t in names]
            ax.bar(np.arange(len(names)) + (i - (len(columns) - 1) / 2) * width, ratios, width,
                   label=COLUMN_TITLES[column])
        ax.axhline(1.0, color="black", linewidth=0.8)
        ax.set_xticks(np.arange(len(names)), names, rotation=60, ha="right")
        ax.set_ylabel("score / Oracle")
        ax.set_title(f"PAVE benchmark ({self.modality}): performance normalised to the Oracle")
        ax.legend(fontsize=8, ncols=len(columns))
        fig.tight_layout()
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        fig.savefig(path, dpi=120)
        plt.close(fig)
        return path


def _short(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.3f}"
    return value if isinstance(value, str) else json.dumps(value, default=str)
