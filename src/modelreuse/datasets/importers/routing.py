"""Convert the staged routing sources in ``<data>/routing`` (see its MANIFEST.md) to routing records.

Each importer is registered in :data:`IMPORTERS` under its collection name and has the signature
``(data_root, progress=None) -> RoutingRecords`` (the records' ``report`` counts what was dropped and
why; split seeds are fixed at 0). Conventions per collection:

* ``routerdc`` -- RouterDC's 7 open 7B models x 20,600 queries, RouterDC's own train/test split;
  ``role`` (in-/out-of-distribution) kept. RouterDC's scoring: multiple-choice scores (the gold
  option's probability when the model's argmax is right) become 0/1 (``score > 0``); GSM8K, MATH
  and code keep their mean-over-samples score.
* ``routerbench`` -- RouterBench records of 11 API models for ARC-C, MBPP, WinoGrande with
  RouterDC's split and RouterBench's recorded USD cost per query; rows with no score for any model
  would be dropped (the MANIFEST mentions 21 such ARC-C rows; in the staged file they are 42 ARC-C
  rows missing some models' scores -- mostly gpt-3.5-turbo alone present or alone absent -- and
  they are kept, missing scores as NaN).
* ``routellm_mmlu`` / ``routellm_gsm8k`` -- GPT-4-1106 vs Mixtral-8x7B 0/1 correctness, the
  contaminated prompts RouteLLM excludes are dropped; there is no split upstream (RouteLLM's
  routers are trained on other data), so a seeded half of the queries is ``train`` and the other
  half ``test``. Costs are USD estimates from list prices ($10/$30 and $0.6/$0.6 per million
  input/output tokens) with 4 characters per token and the recorded responses' lengths (GSM8K) or
  one answer token (MMLU).
* ``routellm_mt_bench`` -- the GPT-4 judge's 1-10 score / 10, averaged over both turns, 72
  decontaminated questions (prompt = turn 1 + turn 2), seeded half split.
* ``metabench`` -- item-level 0/1 correctness of ~4,300-5,500 Open LLM Leaderboard models on the
  reduced ARC, GSM8K, MMLU, TruthfulQA, WinoGrande item sets (one IRT fit per benchmark); a seeded
  half of each benchmark's items is ``train`` (the aptitude test), the rest ``test``. Models are
  columns; a model missing a benchmark has NaN there.
* ``alpaca_eval`` -- 805 instructions, ``score = preference - 1`` in [0, 1] (the GPT-4-Turbo
  judge's probability that the model beats the reference, annotator
  ``weighted_alpaca_eval_gpt4_turbo``; the adversarial ``NullModel`` dropped), seeded half split.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd

from modelreuse._registry import Registry
from modelreuse.config import Progress
from modelreuse.records.routing import COST, SCORE, RoutingRecords

IMPORTERS: Registry[Callable[..., RoutingRecords]] = Registry("routing collection")

MCQ_TASKS = {"mmlu", "cmmlu", "ceval", "arc_challenge", "arc_easy"}
ROUTELLM_PRICES = {"gpt-4-1106-preview": (10.0, 30.0), "mixtral-8x7b-instruct": (0.6, 0.6)}  # USD / M tokens in, out
METABENCH_FITS = ("arc-2PL-MAP-0.005-seed=1", "gsm8k-2PL-EAPsum-0.001-seed=1", "mmlu-3PL-MAP-0.01-seed=1",
                  "truthfulqa-2PL-EAPsum-0.01-seed=1", "winogrande-4PL-MAP-0.005-seed=1")
ALPACA_ANNOTATOR = "weighted_alpaca_eval_gpt4_turbo"


def _half_split(n: int, seed: int = 0) -> np.ndarray:
    split = np.full(n, "test", dtype=object)
    split[np.random.default_rng(seed).permutation(n)[: n // 2]] = "train"
    return split


def _frame(prompt, task, split, scores: dict, costs: dict | None = None, extra: dict | None = None) -> pd.DataFrame:
    columns = {"prompt": list(prompt), "task": list(task), "split": list(split)}
    columns |= {SCORE + m: np.asarray(v, dtype=np.float64) for m, v in scores.items()}
    columns |= {COST + m: np.asarray(v, dtype=np.float64) for m, v in (costs or {}).items()}
    return pd.DataFrame(columns | (extra or {}))


@IMPORTERS.register("routerdc")
def import_routerdc_records(data_root: str | Path, progress: Progress | None = None) -> RoutingRecords:
    root = Path(data_root) / "routing"
    t = pd.read_parquet(root / "routerdc" / "split2_model7_scores.parquet")
    models = [c for c in t.columns if "/" in c]
    mcq = t["dataset"].isin(MCQ_TASKS).to_numpy()
    scores = {m: np.where(mcq, (t[m] > 0).astype(float), t[m]) for m in models}
    meta = pd.DataFrame({"name": models, "size": 7e9, "price": np.nan, "description": ""})
    meta.loc[meta["name"].str.contains("Llama-3|llama3"), "size"] = 8e9
    frame = _frame(t["question"], t["dataset"], t["split"], scores, extra={"qid": t["qid"], "role": t["role"]})
    return RoutingRecords(frame, meta, report={"rows": len(frame), "mcq_scores_binarised": int(mcq.sum())})


@IMPORTERS.register("routerbench")
def import_routerbench_records(data_root: str | Path, progress: Progress | None = None) -> RoutingRecords:
    root = Path(data_root) / "routing"
    t = pd.read_parquet(root / "routerdc" / "routerbench_subset_arc_mbpp_winogrande.parquet")
    models = [c for c in t.columns if "|" not in c and c not in
              ("source_file", "split", "sample_id", "prompt", "eval_name", "oracle_model_to_route_to", "cluster_id")]
    no_score = t[models].isna().all(axis=1)
    t = t[~no_score].reset_index(drop=True)
    prices = json.loads((root / "prices" / "routerbench_token_costs.json").read_text())["prices"]
    meta = pd.DataFrame({"name": models, "size": np.nan, "description": "",
                         "price": [1e7 * prices.get(m, {}).get("completion_usd_per_token", np.nan) for m in models]})
    frame = _frame(t["prompt"], t["eval_name"], t["split"], {m: t[m] for m in models},
                   {m: t[f"{m}|total_cost"] for m in models}, {"sample_id": t["sample_id"]})
    return RoutingRecords(frame, meta, report={"rows": len(frame), "dropped_rows_without_any_score": int(no_score.sum()),
                                         "rows_with_missing_scores": int(t[models].isna().any(axis=1).sum())})


def _routellm_cost(prompts: pd.Series, output_chars: pd.Series | int, model: str) -> np.ndarray:
    price_in, price_out = ROUTELLM_PRICES[model]
    tokens_in = prompts.str.len().to_numpy() / 4.0
    tokens_out = output_chars / 4.0 if isinstance(output_chars, int) else output_chars.str.len().to_numpy() / 4.0
    return (tokens_in * price_in + tokens_out * price_out) / 1e6


def _import_routellm_pair(root: Path, name: str, task: str) -> RoutingRecords:
    t = pd.read_parquet(root / "routellm" / f"{name}_gpt4_vs_mixtral.parquet")
    contaminated = t["contaminated"].to_numpy(dtype=bool)
    t = t[~contaminated].reset_index(drop=True)
    columns = {"gpt-4-1106-preview": "gpt_4_1106_preview", "mixtral-8x7b-instruct": "mixtral_8x7b_instruct"}
    costs = {m: _routellm_cost(t["prompt"], t[f"{c}_response"] if f"{c}_response" in t else 4, m)
             for m, c in columns.items()}
    tasks = t["subject"] if "subject" in t else [task] * len(t)
    frame = _frame(t["prompt"], [task] * len(t), _half_split(len(t)),
                   {m: t[c].astype(float) for m, c in columns.items()}, costs, {"qid": t["qid"], "subtask": tasks})
    meta = pd.DataFrame({"name": list(columns), "size": [np.nan, 46.7e9], "description": "",
                         "price": [ROUTELLM_PRICES[m][1] for m in columns]})
    return RoutingRecords(frame, meta, report={"rows": len(frame), "dropped_contaminated": int(contaminated.sum())})


@IMPORTERS.register("routellm_mmlu")
def import_routellm_mmlu_records(data_root: str | Path, progress: Progress | None = None) -> RoutingRecords:
    return _import_routellm_pair(Path(data_root) / "routing", "mmlu", "mmlu")


@IMPORTERS.register("routellm_gsm8k")
def import_routellm_gsm8k_records(data_root: str | Path, progress: Progress | None = None) -> RoutingRecords:
    return _import_routellm_pair(Path(data_root) / "routing", "gsm8k", "gsm8k")


@IMPORTERS.register("routellm_mt_bench")
def import_routellm_mt_bench_records(data_root: str | Path, progress: Progress | None = None) -> RoutingRecords:
    root = Path(data_root) / "routing"
    q = pd.read_parquet(root / "routellm" / "mt_bench_questions.parquet")
    contaminated = q["contaminated"].to_numpy(dtype=bool)
    q = q[~contaminated].reset_index(drop=True)
    judged = pd.read_parquet(root / "routellm" / "mt_bench_gpt4_judgements.parquet")
    mean = judged.groupby(["question_id", "model"])["score"].mean().unstack() / 10.0
    models = list(mean.columns)
    scores = {m: mean[m].reindex(q["question_id"]).to_numpy() for m in models}
    frame = _frame(q["turn1"] + "\n\n" + q["turn2"], q["category"], _half_split(len(q)), scores,
                   extra={"question_id": q["question_id"]})
    return RoutingRecords(frame, report={"rows": len(frame), "dropped_contaminated": int(contaminated.sum())})


@IMPORTERS.register("metabench")
def import_metabench_records(data_root: str | Path, progress: Progress | None = None) -> RoutingRecords:
    root = Path(data_root) / "routing"
    items = pd.read_parquet(root / "metabench" / "items.parquet")
    responses = pd.read_parquet(root / "metabench" / "responses_long.parquet", filters=[("fit", "in", METABENCH_FITS)])
    items = items[items["fit"].isin(METABENCH_FITS)].reset_index(drop=True)
    wide = responses.pivot_table(index=["fit", "item"], columns="model", values="correct", aggfunc="first")
    wide = wide.reindex(pd.MultiIndex.from_frame(items[["fit", "item"]])).astype(np.float64)
    split = np.concatenate([_half_split(int(n)) for n in items.groupby("fit", sort=False).size()])
    frame = _frame(items["prompt"], items["benchmark"], split, {m: wide[m].to_numpy() for m in wide.columns},
                   extra={"item": items["item"], "fit": items["fit"]})
    return RoutingRecords(frame, report={"rows": len(frame), "models": int(wide.shape[1])})


@IMPORTERS.register("alpaca_eval")
def import_alpaca_eval_records(data_root: str | Path, progress: Progress | None = None) -> RoutingRecords:
    root = Path(data_root) / "routing"
    instructions = pd.read_parquet(root / "alpaca_eval" / "instructions.parquet")
    prefs = pd.read_parquet(root / "alpaca_eval" / "annotations_preferences.parquet")
    prefs = prefs[(prefs["annotator"] == ALPACA_ANNOTATOR) & (prefs["model"] != "NullModel")]
    wide = (prefs.pivot_table(index="qid", columns="model", values="preference", aggfunc="mean") - 1.0)
    wide = wide.reindex(instructions["qid"])
    frame = _frame(instructions["instruction"], instructions["dataset"], _half_split(len(instructions)),
                   {m: wide[m].to_numpy() for m in wide.columns}, extra={"qid": instructions["qid"]})
    return RoutingRecords(frame, report={"rows": len(frame), "models": int(wide.shape[1]), "dropped_models": ["NullModel"]})


def import_all(data_root: str | Path, out: str | Path, only: list[str] | None = None,
               progress: Progress | None = None) -> dict:
    """Write ``<out>/<collection>.parquet`` (+ ``_models.csv``) for every staged source; returns
    ``{collection: report}`` (a collection that fails to parse reports its error, the others go on)."""
    reports = {}
    for name in only or IMPORTERS.names():
        if progress:
            progress(f"importing {name}")
        try:
            records = IMPORTERS.get(name)(data_root, progress)
        except (OSError, KeyError, ValueError) as exc:
            reports[name] = {"error": f"{type(exc).__name__}: {exc}"}
            continue
        records.write(Path(out) / f"{name}.parquet")
        reports[name] = records.report | {"models": len(records.models), "path": str(Path(out) / f"{name}.parquet")}
    return reports
