"""Convert the staged leaderboards in ``<data>/leaderboards`` (see its MANIFEST.md) to leaderboard records.

Each importer is registered in :data:`IMPORTERS` under its source name and has the signature
``(data_root, progress=None) -> LeaderboardRecords`` (the source's cleaned records; ``report``: rows
read, what it skipped, nonzero cleaning counts). :func:`import_all` merges them: model names are merged across
sources *conservatively*, only when they are equal ignoring case (``01-ai/yi-34b`` =
``01-ai/Yi-34B``, but ``Llama-2-7b`` from PapersWithCode is not ``meta-llama/Llama-2-7b-hf``);
the report counts merged spellings and models seen by several sources.

Per-source conventions:

* ``mteb`` -- test-split ``main_score`` (mean over subsets) of 662 embedding models; the task's
  type is the ``task``, its ``main_score`` name the metric; descriptions from the model and task
  metadata. Old-format result files (``unparsed_files.txt``) are not read and are counted.
* ``every_eval_ever`` -- Open LLM Leaderboard v2, HELM (lite, classic, mmlu, capabilities,
  instruct), RewardBench, Global-MMLU-Lite, LiveCodeBench-Pro and HAL; dataset =
  ``<benchmark>: <evaluation name>``; the direction comes from ``lower_is_better``.
* ``open_llm_v1`` -- the 18 Open LLM Leaderboard v1 snapshots, oldest first, so a model's newest
  score wins (conflicting re-evaluations are counted); release date = the first snapshot listing
  the model (an upper bound on its release); parameters parsed from the name (``7b``, ``8x7B``,
  ``350m``) because the ``Parameters`` column is unreliable.
* ``obsscaling`` -- base-LLM standard benchmarks, leaderboard-v2 evals and instruct-LLM evals.
* ``open_clip`` -- 121 (architecture, pretraining) pairs x 38 zero-shot datasets, model name
  ``<arch> <pretrained>`` (LOVM's ``model_fullname``), parameters from ``params (M)``.
* ``clip_benchmark`` -- CLIP_benchmark's long table (zero-shot acc1 / mean per-class recall,
  retrieval recall@5), same model naming as ``open_clip``.
* ``torchvision`` -- every weight's ImageNet / COCO / VOC / Kinetics / optical-flow metrics;
  model name ``<WeightsEnum>.<WEIGHTS>``; directions from the metric names (``epe`` and ``fl_all``
  are errors).
* ``pwc`` -- PapersWithCode SOTA tables; metrics that count parameters are not scores and are
  skipped; values are parsed from strings like ``93.2%`` or ``0.79 ± 0.01``; unnamed
  ("Anonymous") entries are skipped; release date = paper date.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd

from modelreuse._registry import Registry
from modelreuse.config import Progress
from modelreuse.errors import RecordsDataError
from modelreuse.records.leaderboard import LeaderboardRecords

IMPORTERS: Registry[Callable[..., LeaderboardRecords]] = Registry("leaderboard source")
CLEANING_KEYS = ("dropped_missing_score", "dropped_missing_name", "direction_inferred_from_metric_name",
                 "dropped_unknown_direction", "duplicate_rows_dropped", "duplicate_keys_conflicting")


def _source(records: pd.DataFrame, models: pd.DataFrame, datasets: pd.DataFrame, report: dict) -> LeaderboardRecords:
    """One source's cleaned records; ``report`` = rows read, the importer's skips, nonzero cleaning counts."""
    part = LeaderboardRecords(records, models, datasets, {"rows_read": len(records), **report})
    part.report = {k: v for k, v in part.report.items() if k in ("rows_read", *report) or (k in CLEANING_KEYS and v)}
    return part


LLM_BENCHMARKS = {
    "mmlu": "57-subject multiple-choice exam questions (humanities, STEM, social sciences)",
    "arc": "grade-school science multiple-choice questions, challenge set",
    "hellaswag": "commonsense sentence completion of everyday scenarios",
    "truthfulqa": "questions that probe whether a model repeats common misconceptions",
    "winogrande": "pronoun-resolution commonsense reasoning (Winograd schema)",
    "winograd": "pronoun-resolution commonsense reasoning (Winograd schema)",
    "xwinograd": "multilingual Winograd-schema commonsense reasoning",
    "gsm8k": "grade-school math word problems solved step by step",
    "humaneval": "Python function synthesis from docstrings, judged by unit tests",
    "bbh": "BIG-Bench Hard: challenging multi-step reasoning tasks",
    "gpqa": "graduate-level Google-proof science multiple-choice questions",
    "ifeval": "instruction following with verifiable format constraints",
    "math": "competition mathematics problems, hardest level",
    "mmlu_pro": "harder 10-option version of MMLU with reasoning-heavy questions",
    "musr": "multi-step soft reasoning over long narratives",
    "arena": "human pairwise preference rating of chat assistants",
    "mtbench": "multi-turn open-ended chat questions judged by GPT-4",
}


def _llm_dataset_description(name: str) -> str:
    key = re.sub(r"[^a-z_]", "", name.lower().replace("-", "_").replace("leaderboard_", ""))
    for prefix, text in LLM_BENCHMARKS.items():
        if key.startswith(prefix.replace("_", "")) or key.startswith(prefix):
            return f"{name}: {text}"
    return name


def params_from_name(name: str) -> float:
    """Parameters parsed from a model name: ``7b`` -> 7e9, ``8x7B`` -> 5.6e10, ``350m`` -> 3.5e8, else NaN."""
    match = re.search(r"(?:(\d+)x)?(\d+(?:\.\d+)?)\s*([bm])(?![a-z])", name.lower().split("/")[-1])
    if not match:
        return np.nan
    experts = float(match.group(1) or 1)
    return experts * float(match.group(2)) * (1e9 if match.group(3) == "b" else 1e6)


def family_from_name(name: str) -> str:
    """A coarse family from a name: the leading letters of its last path part (``Llama-2-7b`` -> ``llama``)."""
    match = re.match(r"[a-z]+", name.split("/")[-1].lower())
    return match.group(0) if match else ""


def _models(names, **columns) -> pd.DataFrame:
    frame = pd.DataFrame({"model": list(names), **columns})
    if "family" not in frame:
        frame["family"] = frame["model"].map(family_from_name)
    return frame


@IMPORTERS.register("mteb")
def import_mteb(data_root: str | Path, progress: Progress | None = None) -> LeaderboardRecords:
    root = Path(data_root)
    folder = root / "leaderboards" / "mteb"
    scores = pd.read_csv(folder / "mteb_scores_task.csv.gz")
    scores = scores[scores["split"] == "test"]
    tasks = pd.read_csv(folder / "mteb_task_metadata.csv").drop_duplicates("name")
    tasks = tasks.set_index("name")
    known = scores["task"].isin(tasks.index)
    scores = scores[known]
    records = pd.DataFrame({"model": scores["model"], "dataset": scores["task"],
                            "task": scores["task"].map(tasks["type"]), "metric": scores["task"].map(tasks["main_score"]).fillna("main_score"),
                            "score": scores["main_score_mean"], "higher_is_better": True, "source": "mteb"})
    meta = pd.read_csv(folder / "mteb_model_meta.csv").drop_duplicates("name").set_index("name")
    names = records["model"].unique()
    meta = meta.reindex(names)
    description = [_mteb_model_text(name, row) for name, row in meta.iterrows()]
    models = _models(names, params=meta["n_parameters"].to_numpy(), release_date=meta["release_date"].to_numpy(),
                     description=description)
    used = tasks.loc[records["dataset"].unique()]
    datasets = pd.DataFrame({"dataset": used.index, "task": used["type"].to_numpy(),
                             "modality": used["modalities"].fillna("").str.replace(r'[\[\]"]', "", regex=True).to_numpy(),
                             "description": used["description"].fillna("").str.strip().to_numpy()})
    report = {"rows_unknown_task": int((~known).sum()),
              "old_format_files_not_read": len((folder / "unparsed_files.txt").read_text().splitlines())}
    return _source(records, models, datasets, report)


def _mteb_model_text(name: str, row: pd.Series) -> str:
    parts = [f"{name}: text embedding model"]
    for label, column in (("embedding size", "embed_dim"), ("max tokens", "max_tokens"), ("languages", "languages"),
                          ("adapted from", "adapted_from"), ("framework", "framework"), ("license", "license")):
        value = row.get(column)
        if isinstance(value, str) and value.strip() or isinstance(value, float) and np.isfinite(value):
            parts.append(f"{label} {value if isinstance(value, str) else int(value)}")
    return "; ".join(parts) if len(parts) > 1 else ""


@IMPORTERS.register("every_eval_ever")
def import_every_eval_ever(data_root: str | Path, progress: Progress | None = None) -> LeaderboardRecords:
    root = Path(data_root)
    t = pd.read_csv(root / "leaderboards" / "every_eval_ever" / "eee_records_long.csv.gz")
    t = t.sort_values("retrieved_timestamp", kind="stable")
    dataset = t["benchmark_dir"] + ": " + t["evaluation_name"]
    records = pd.DataFrame({"model": t["model_id"], "dataset": dataset, "task": "llm evaluation",
                            "metric": t["metric_description"].fillna("score"), "score": t["score"],
                            "higher_is_better": ~t["lower_is_better"].astype(bool), "source": "every_eval_ever"})
    first = t.drop_duplicates("model_id")
    display = first["model_additional_details"].map(_display_name)
    text = [f"{d or m}; developer {dev}; architecture {arch}".replace("; architecture nan", "")
            for m, d, dev, arch in zip(first["model_id"], display, first["developer"], first["architecture"])]
    models = _models(first["model_id"], params=first["params_billions"].to_numpy() * 1e9,
                     release_date=np.nan, description=text)
    ds = pd.DataFrame({"dataset": dataset, "description": t["metric_description"].fillna("")}).drop_duplicates("dataset")
    datasets = ds.assign(task="llm evaluation", modality="text",
                         description=[_llm_dataset_description(d.split(": ", 1)[1]) + ". " + m
                                      for d, m in zip(ds["dataset"], ds["description"])])
    return _source(records, models, datasets, {})


def _display_name(details: str) -> str:
    try:
        return json.loads(details).get("display_name", "")
    except (TypeError, ValueError, AttributeError):
        return ""


@IMPORTERS.register("open_llm_v1")
def import_open_llm_v1(data_root: str | Path, progress: Progress | None = None) -> LeaderboardRecords:
    root = Path(data_root)
    frames = []
    for path in sorted((root / "leaderboards" / "open_llm_leaderboard_v1" / "assets").glob("*/*.csv")):
        snapshot = pd.read_csv(path, encoding="utf-8-sig")
        snapshot.columns = [c.replace(" (", "(") for c in snapshot.columns]  # early snapshots spell "ARC (25-shot)"
        frames.append(snapshot.assign(snapshot=pd.to_datetime(path.stem, format="%Y%m%d").date().isoformat()))
    t = pd.concat(frames, ignore_index=True)
    benchmarks = [c for c in t.columns if "shot" in c]
    long = t.melt(id_vars=["Model", "snapshot"], value_vars=benchmarks, var_name="dataset", value_name="score")
    records = pd.DataFrame({"model": long["Model"], "dataset": long["dataset"], "task": "llm evaluation",
                            "metric": "accuracy (%)", "score": long["score"], "higher_is_better": True,
                            "source": "open_llm_v1"})
    first_seen = t.groupby("Model")["snapshot"].min()
    models = _models(first_seen.index, params=first_seen.index.map(params_from_name).to_numpy(dtype=float),
                     release_date=first_seen.to_numpy(), description="")
    datasets = pd.DataFrame({"dataset": benchmarks, "task": "llm evaluation", "modality": "text",
                             "description": [_llm_dataset_description(b) for b in benchmarks]})
    return _source(records, models, datasets, {"snapshots": len(frames)})


@IMPORTERS.register("obsscaling")
def import_obsscaling(data_root: str | Path, progress: Progress | None = None) -> LeaderboardRecords:
    root = Path(data_root)
    folder = root / "leaderboards" / "obsscaling" / "eval_results"
    meta_columns = ["Model", "Model Family", "Model Size (B)", "Pretraining Data Size (T)", "FLOPs (1E21)"]
    frames, metas = [], []
    for name in ("base_llm_benchmark_eval", "base_llm_leaderboard_v2_eval", "instruct_llm_benchmark_eval"):
        t = pd.read_csv(folder / f"{name}.csv")
        present = [c for c in meta_columns if c in t]
        metas.append(t[present])
        long = t.melt(id_vars=present, value_vars=[c for c in t.columns if c not in meta_columns],
                      var_name="dataset", value_name="score")
        frames.append(long.assign(setting=name.replace("_eval", "")))
    long = pd.concat(frames, ignore_index=True)
    records = pd.DataFrame({"model": long["Model"], "dataset": long["dataset"], "task": long["setting"],
                            "metric": "score", "score": long["score"], "higher_is_better": True, "source": "obsscaling"})
    meta = pd.concat(metas, ignore_index=True).drop_duplicates("Model")
    text = [f"{m}: {fam} language model" + (f", {size:g}B parameters" if np.isfinite(size) else "")
            + (f", pretrained on {tok:g}T tokens" if np.isfinite(tok) else "")
            for m, fam, size, tok in zip(meta["Model"], meta["Model Family"].fillna("unknown-family"),
                                          meta["Model Size (B)"].astype(float), meta["Pretraining Data Size (T)"].astype(float))]
    family = meta["Model Family"].fillna(meta["Model"].map(family_from_name)).str.lower()
    models = _models(meta["Model"], family=family.to_numpy(), params=meta["Model Size (B)"].to_numpy() * 1e9,
                     release_date=np.nan, description=text)
    names = long["dataset"].unique()
    datasets = pd.DataFrame({"dataset": names, "task": "llm evaluation", "modality": "text",
                             "description": [_llm_dataset_description(n) for n in names]})
    return _source(records, models, datasets, {})


def _clip_models(names: pd.Series, params_m) -> pd.DataFrame:
    arch = names.str.split(" ").str[0]
    tag = names.str.split(" ", n=1).str[1].fillna("")
    text = "CLIP-style vision-language model, image tower " + arch + ", pretrained on " + tag.str.replace("_", " ")
    return _models(names, family=arch.str.lower().str.extract(r"^([a-z]+)")[0].fillna("").to_numpy(),
                   params=np.asarray(params_m, dtype=float) * 1e6, release_date=np.nan, description=text.to_numpy())


@IMPORTERS.register("open_clip")
def import_open_clip(data_root: str | Path, progress: Progress | None = None) -> LeaderboardRecords:
    root = Path(data_root)
    t = pd.read_csv(root / "leaderboards" / "open_clip" / "docs" / "openclip_results.csv")
    t["model"] = t["name"] + " " + t["pretrained"]
    meta = ["name", "pretrained", "params (M)", "FLOPs (B)", "Average perf. on 38 datasets", "model"]
    long = t.melt(id_vars=["model"], value_vars=[c for c in t.columns if c not in meta],
                  var_name="dataset", value_name="score")
    records = pd.DataFrame({"model": long["model"], "dataset": long["dataset"], "task": "zero-shot classification",
                            "metric": "main metric (acc1 or recall)", "score": long["score"], "higher_is_better": True,
                            "source": "open_clip"})
    names = long["dataset"].unique()
    datasets = pd.DataFrame({"dataset": names, "task": "zero-shot classification", "modality": "image",
                             "description": [f"zero-shot image recognition benchmark {n}" for n in names]})
    return _source(records, _clip_models(t["model"], t["params (M)"]), datasets, {})


@IMPORTERS.register("clip_benchmark")
def import_clip_benchmark(data_root: str | Path, progress: Progress | None = None) -> LeaderboardRecords:
    root = Path(data_root)
    folder = root / "leaderboards" / "clip_benchmark" / "benchmark"
    t = pd.read_csv(folder / "benchmark.csv")
    metrics = ["acc1", "mean_per_class_recall", "image_retrieval_recall@5", "text_retrieval_recall@5"]
    long = t.melt(id_vars=["model_fullname", "dataset", "task"], value_vars=metrics, var_name="metric",
                  value_name="score").dropna(subset=["score"])
    records = pd.DataFrame({"model": long["model_fullname"], "dataset": long["dataset"], "task": long["task"],
                            "metric": long["metric"], "score": long["score"], "higher_is_better": True,
                            "source": "clip_benchmark"})
    kinds = pd.read_csv(folder / "dataset_type.csv").set_index("dataset")["type"]
    ds = t.drop_duplicates("dataset")
    datasets = pd.DataFrame({"dataset": ds["dataset"], "task": ds["task"], "modality": "image",
                             "description": [f"{d} ({kinds.get(d.split('/')[-1], kinds.get(d, 'image'))} images), {k}"
                                             for d, k in zip(ds["dataset"], ds["task"].str.replace("_", " "))]})
    models = _clip_models(pd.Series(t["model_fullname"].unique()), np.nan)
    return _source(records, models, datasets, {})


@IMPORTERS.register("torchvision")
def import_torchvision(data_root: str | Path, progress: Progress | None = None) -> LeaderboardRecords:
    root = Path(data_root)
    t = pd.read_csv(root / "leaderboards" / "torchvision" / "torchvision_weights_metrics.csv")
    model = t["weights_enum"] + "." + t["weights"]
    records = pd.DataFrame({"model": model, "dataset": t["dataset"], "task": t["module"].str.replace(".py", ""),
                            "metric": t["metric"], "score": t["value"], "higher_is_better": None,
                            "source": "torchvision"})
    first = t.assign(model=model).drop_duplicates("model")
    models = _models(first["model"], family=first["module"].str.replace(".py", "").to_numpy(),
                     params=first["num_params"].to_numpy(dtype=float), release_date=np.nan,
                     description=(first["model"] + ": " + first["docs"].fillna("")).to_numpy())
    ds = t.drop_duplicates("dataset")
    datasets = pd.DataFrame({"dataset": ds["dataset"], "task": "vision", "modality": "image",
                             "description": "torchvision reference evaluation on " + ds["dataset"]})
    return _source(records, models, datasets, {})


_NOT_A_SCORE = re.compile(r"param|number of|#|size|flops|speed|time|memory|\bgpu", re.I)


def _parse_value(raw) -> float:
    if not isinstance(raw, str):
        return float(raw) if raw is not None else np.nan
    match = re.match(r"\s*([-+]?\d[\d,]*(?:\.\d+)?|[-+]?\.\d+)\s*([kmb%]?)", raw.lower())
    if not match:
        return np.nan
    value = float(match.group(1).replace(",", ""))
    return value * {"k": 1e3, "m": 1e6, "b": 1e9}.get(match.group(2), 1.0)


@IMPORTERS.register("pwc")
def import_pwc(data_root: str | Path, progress: Progress | None = None) -> LeaderboardRecords:
    root = Path(data_root)
    t = pd.read_csv(root / "leaderboards" / "pwc_sota_extractor" / "pwc_tasks_flat.csv")
    not_score = t["metric"].fillna("").str.contains(_NOT_A_SCORE)
    anonymous = t["model_name"].fillna("").str.strip().str.lower().isin(["", "anonymous"])
    t = t[~not_score & ~anonymous]
    records = pd.DataFrame({"model": t["model_name"], "dataset": t["dataset"], "task": t["task_path"],
                            "metric": t["metric"], "score": t["value_raw"].map(_parse_value),
                            "higher_is_better": None, "source": "pwc"})
    dates = t.groupby("model_name")["paper_date"].min()
    papers = t.drop_duplicates("model_name").set_index("model_name")["paper_title"]
    models = _models(dates.index, params=np.nan, release_date=dates.to_numpy(),
                     description=[f"{m}, from {papers.get(m)}" if isinstance(papers.get(m), str) else ""
                                  for m in dates.index])
    ds = t.drop_duplicates("dataset")
    datasets = pd.DataFrame({"dataset": ds["dataset"], "task": ds["task_path"], "modality": "",
                             "description": ds["dataset_description"].fillna(ds["task_path"] + " benchmark " + ds["dataset"])})
    return _source(records, models, datasets, {"skipped_size_or_speed_metric_rows": int(not_score.sum()),
                                                    "skipped_anonymous_rows": int(anonymous.sum())})


def import_all(root: str | Path, only: list[str] | None = None,
               progress: Progress | None = None) -> LeaderboardRecords:
    """Run the importers (all, or ``only``), merge model names across sources, clean, and report per source."""
    unknown = set(only or []) - set(IMPORTERS)
    if unknown:
        raise RecordsDataError(f"unknown source(s) {sorted(unknown)}; available: {IMPORTERS.names()}")
    parts = {}
    for name in only or IMPORTERS.names():
        if progress:
            progress(f"importing {name}")
        parts[name] = IMPORTERS.get(name)(root, progress)
    records = pd.concat([p.records for p in parts.values()], ignore_index=True)
    models = pd.concat([p.models for p in parts.values()], ignore_index=True)
    spelling, merged = _canonical_names(records["model"])
    records["model"] = records["model"].map(spelling)
    models["model"] = models["model"].map(spelling)
    models = _merge_model_rows(models)
    datasets = pd.concat([p.datasets for p in parts.values()], ignore_index=True).drop_duplicates("dataset")
    result = LeaderboardRecords(records, models, datasets)
    sources_per_model = result.records.groupby("model")["source"].nunique()
    result.report = {**result.report, "model_spellings_merged": merged,
                     "models_in_several_sources": int((sources_per_model > 1).sum()),
                     "per_source": {name: {**parts[name].report, **counts}
                                    for name, counts in _per_source_counts(result).items()}}
    return result


def _canonical_names(names: pd.Series) -> tuple[dict, int]:
    """Map every spelling to the most frequent spelling of its case-folded name."""
    counts = names.value_counts()
    folded = counts.index.str.lower()
    best = counts.groupby(folded, sort=False).idxmax() if len(counts) else pd.Series(dtype=str)
    mapping = {spelling: best[key] for spelling, key in zip(counts.index, folded)}
    return mapping, int(sum(1 for s, c in mapping.items() if s != c))


def _merge_model_rows(models: pd.DataFrame) -> pd.DataFrame:
    """One row per model: for each column the first non-empty value (sources in import order)."""
    models = models.replace({"": np.nan})
    return models.groupby("model", sort=False).first().reset_index()


def _per_source_counts(records: LeaderboardRecords) -> dict:
    table = records.ranking_groups()
    out = {}
    for source, part in records.records.groupby("source"):
        groups = table[table["source"] == source]
        out[source] = {"records": len(part), "models": int(part["model"].nunique()),
                       "datasets": int(part["dataset"].nunique()), "ranking_groups": int(groups["group"].nunique())}
    return out
