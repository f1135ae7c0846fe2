"""Leaderboard records: importers on the real staged leaderboards, cleaning rules, bad input."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from modelreuse.datasets.importers.leaderboard import import_all, params_from_name
from modelreuse.errors import RecordsDataError
from modelreuse.records.leaderboard import LeaderboardRecords, infer_higher_is_better, read_leaderboard


@pytest.fixture(scope="module")
def small(data_root) -> LeaderboardRecords:
    return import_all(data_root, only=["torchvision", "obsscaling", "clip_benchmark"])


def test_torchvision_values_and_directions(small):
    rec = small.records.set_index(["model", "dataset", "metric"])
    assert rec.loc[("ResNet50_Weights.IMAGENET1K_V2", "ImageNet-1K", "acc@1"), "score"] == pytest.approx(80.858)
    flow = small.records[small.records["metric"] == "epe"]
    assert len(flow) > 0 and not flow["higher_is_better"].any()
    models = small.models.set_index("model")
    assert models.loc["ResNet50_Weights.IMAGENET1K_V2", "params"] == 25557032


def test_obsscaling_metadata_and_groups(small):
    models = small.models.set_index("model")
    assert models.loc["meta-llama/Llama-2-70b-hf", "params"] == pytest.approx(70e9)
    assert models.loc["meta-llama/Llama-2-70b-hf", "family"] == "llama-2"
    groups = small.ranking_groups()
    mmlu = groups[(groups["source"] == "obsscaling") & (groups["dataset"] == "MMLU")]
    assert mmlu["group"].nunique() == 2                        # base and instruct settings are separate queries
    assert small.report["per_source"]["obsscaling"]["dropped_missing_score"] > 0


def test_clip_benchmark_metric_rows(small):
    part = small.records[small.records["source"] == "clip_benchmark"]
    assert set(part["metric"]) >= {"acc1", "mean_per_class_recall"}
    assert part["model"].nunique() == 13


def test_names_merge_case_insensitively_and_cross_sources(data_root):
    merged = import_all(data_root, only=["obsscaling", "every_eval_ever"])
    assert merged.report["model_spellings_merged"] > 0
    assert merged.report["models_in_several_sources"] > 0
    lowered = merged.models["model"].str.lower()
    assert not lowered.duplicated().any()


def test_params_from_name():
    assert params_from_name("meta-llama/Llama-2-7b-hf") == 7e9
    assert params_from_name("mistralai/Mixtral-8x7B-v0.1") == 56e9
    assert params_from_name("facebook/opt-350m") == 350e6
    assert np.isnan(params_from_name("gpt2"))


def test_direction_inference():
    assert infer_higher_is_better("Percentage error") is False
    assert infer_higher_is_better("Test perplexity") is False
    assert infer_higher_is_better("F1") is True
    assert infer_higher_is_better("SemEval 2007") is None


def _records(**extra) -> pd.DataFrame:
    base = {"model": ["a", "b", "a", "b", "c"], "dataset": ["d1", "d1", "d2", "d2", "d3"],
            "task": "t", "metric": ["acc"] * 4 + ["SemEval 2007"], "score": [0.5, 0.6, 0.7, 0.1, 0.3],
            "higher_is_better": [True, True, True, True, None], "source": "s"}
    return pd.DataFrame(base | extra)


def test_cleaning_counts_everything_it_drops():
    frame = pd.concat([_records(), _records(score=[0.5, 0.9, 0.7, 0.1, 0.3]).iloc[[1]]], ignore_index=True)
    rec = LeaderboardRecords(frame, pd.DataFrame({"model": ["a"], "description": ["model a"]}), pd.DataFrame())
    assert rec.report["dropped_unknown_direction"] == 1              # 'SemEval 2007' says neither
    assert rec.report["duplicate_rows_dropped"] == 1
    assert rec.report["duplicate_keys_conflicting"] == 1
    b_d1 = rec.records[(rec.records["model"] == "b") & (rec.records["dataset"] == "d1")]
    assert b_d1["score"].tolist() == [0.9]                           # the last row wins
    assert rec.report["models_without_description"] == 1             # b has no metadata row
    assert rec.report["groups"] == 2
    lower = LeaderboardRecords(_records(higher_is_better=[False] * 5), pd.DataFrame(), pd.DataFrame())
    assert lower.utility.tolist() == [-0.5, -0.6, -0.7, -0.1, -0.3]


def test_single_model_groups_are_counted_not_ranked():
    frame = _records(higher_is_better=[True] * 5)
    rec = LeaderboardRecords(frame, pd.DataFrame(), pd.DataFrame())
    assert rec.report["single_model_groups"] == 1
    assert "d3" not in set(rec.ranking_groups()["dataset"])


def test_bad_input_is_a_typed_error(tmp_path):
    with pytest.raises(RecordsDataError, match="lack column"):
        LeaderboardRecords(_records().drop(columns=["score"]), pd.DataFrame(), pd.DataFrame())
    with pytest.raises(RecordsDataError, match="no usable records"):
        LeaderboardRecords(_records(score=np.nan), pd.DataFrame(), pd.DataFrame())
    with pytest.raises(RecordsDataError, match="no records"):
        read_leaderboard(tmp_path)
    with pytest.raises(RecordsDataError, match="unknown source"):
        import_all(tmp_path, only=["nope"])


def test_write_read_round_trip(small, tmp_path):
    small.write(tmp_path, "csv")
    back = read_leaderboard(tmp_path)
    assert len(back.records) == len(small.records)
    assert back.records["score"].sum() == pytest.approx(small.records["score"].sum())
    assert set(back.models["model"]) == set(small.models["model"])


def test_every_staged_source_imports_with_known_values(data_root):
    full = import_all(data_root)
    per_source = full.report["per_source"]
    assert set(per_source) == {"mteb", "every_eval_ever", "open_llm_v1", "obsscaling", "open_clip",
                               "clip_benchmark", "torchvision", "pwc"}
    assert all(r["ranking_groups"] > 0 for r in per_source.values())
    rec = full.records

    def one(source, model, dataset):
        rows = rec[(rec["source"] == source) & (rec["model"] == model) & (rec["dataset"] == dataset)]
        assert len(rows) == 1, rows
        return rows.iloc[0]

    scifact = one("mteb", "sentence-transformers/all-MiniLM-L6-v2", "SciFact")
    assert (scifact["metric"], scifact["task"]) == ("ndcg_at_10", "Retrieval")
    assert scifact["score"] == pytest.approx(0.64508, abs=1e-5)
    assert one("open_clip", "ViT-B-32 openai", "ImageNet 1k")["score"] == pytest.approx(0.6332)
    # early snapshots spell "ARC (25-shot)": one dataset per benchmark, the newest row wins
    assert sorted(rec.loc[rec["source"] == "open_llm_v1", "dataset"].unique()) == \
        ["ARC(25-shot)", "HellaSwag(10-shot)", "MMLU(5-shot)", "TruthfulQA(0-shot)"]
    assert one("open_llm_v1", "meta-llama/Llama-2-7b-hf", "MMLU(5-shot)")["score"] == pytest.approx(43.8)
    assert per_source["open_llm_v1"]["duplicate_keys_conflicting"] > 0
    assert per_source["pwc"]["skipped_anonymous_rows"] > 0 and per_source["pwc"]["dropped_unknown_direction"] > 0
    assert per_source["mteb"]["old_format_files_not_read"] == 1823
    assert full.models.set_index("model").loc["meta-llama/Llama-2-7b-hf", "params"] == pytest.approx(6.738e9)
