"""ModelLens and the recommend benchmark on real leaderboard records (CLIP, torchvision, ObsScaling)."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
import torch
from typer.testing import CliRunner

from modelreuse.bench.recommend_bench import query_metrics, run_recommend_bench, split_records
from modelreuse.cli import app
from modelreuse.datasets.importers.leaderboard import import_all
from modelreuse.errors import RecordsDataError
from modelreuse.selection.learned.modellens import ModelLens, _ranking_loss

SOURCES = ["open_clip", "clip_benchmark", "torchvision", "obsscaling"]


@pytest.fixture(scope="module")
def records(data_root):
    return import_all(data_root, only=SOURCES)


@pytest.fixture(scope="module")
def cache(tmp_path_factory):
    return tmp_path_factory.mktemp("recommend-cache")


@pytest.fixture(scope="module")
def fitted(records, cache):
    return ModelLens(steps=300, seed=0, members=2, cache=cache).fit(records)


def test_ranking_loss_prefers_the_true_order():
    z = torch.tensor([[2.0, 1.0, 0.0, -1.0]])
    valid = torch.ones_like(z, dtype=torch.bool)
    right = _ranking_loss(z.clone(), z.clone(), z, valid, 1.0, 0.5)
    wrong = _ranking_loss(-z, z.clone(), z, valid, 1.0, 0.5)
    assert right < wrong
    padded = torch.tensor([[2.0, 1.0, 0.0, 5.0]])
    mask = torch.tensor([[True, True, True, False]])
    assert torch.isfinite(_ranking_loss(padded, padded, padded, mask, 1.0, 0.5))


def test_splits_hold_out_what_they_say(records):
    train, test, report = split_records(records, "unseen-models", seed=0)
    assert not set(test["model"]) & set(train.records["model"])
    assert (test.groupby("group")["model"].size() >= 2).all() and report["queries"] > 0
    train, test, _ = split_records(records, "unseen-datasets", seed=0)
    assert not set(test["dataset"]) & set(train.records["dataset"])
    with pytest.raises(RecordsDataError, match="unknown setting"):
        split_records(records, "nope")


def test_query_metrics_extremes():
    truth = np.array([0.1, 0.5, 0.9, 0.3])
    perfect = query_metrics(truth * 2, truth)
    assert perfect["weighted_tau"] == pytest.approx(1.0) and perfect["hit@1"] == 1.0 and perfect["ndcg@10"] == 1.0
    constant = query_metrics(np.zeros(4), truth)
    assert constant["weighted_tau"] == 0.0 and constant["weighted_tau_sfda"] == 0.0


def test_modellens_learns_to_complete_the_matrix(records, cache):
    report = run_recommend_bench(records, "completion", ["modellens", "popularity"], seeds=(0,), cache=cache,
                                 modellens_options={"steps": 400, "members": 1})
    ours, popular = report["methods"]["modellens"], report["methods"]["popularity"]
    assert ours["weighted_tau"] > 0.4
    assert ours["weighted_tau"] > popular["weighted_tau"] + 0.2


def test_cold_start_models_are_scored_from_metadata(fitted, records):
    new = pd.DataFrame({"model": ["ViT-B-32 brand_new_data", "ViT-bigG-14 brand_new_data"],
                        "family": ["vit", "vit"], "params": [1.5e8, 2.5e9], "release_date": None,
                        "description": ["small CLIP model", "very large CLIP model"]})
    pairs = pd.DataFrame({"model": new["model"], "dataset": "ImageNet 1k", "task": "zero-shot classification",
                          "metric": "main metric (acc1 or recall)"})
    scores = fitted.predict(pairs, new, records.datasets)
    assert np.isfinite(scores).all() and scores[0] != scores[1]


def test_save_load_and_recommend(fitted, tmp_path, cache):
    assert len(fitted.nets_) == 2
    fitted.save(tmp_path / "rec")
    back = ModelLens.load(tmp_path / "rec", cache)
    pairs = fitted.catalogue_[0].head(20).assign(dataset="Caltech-101", task="zero-shot classification",
                                                 metric="main metric (acc1 or recall)")[["model", "dataset", "task", "metric"]]
    np.testing.assert_allclose(back.predict(pairs, *back.catalogue_), fitted.predict(pairs, *fitted.catalogue_), rtol=1e-6)
    top = back.recommend("photos of flowers, 102 species", task="zero-shot classification", top=5, sources=["open_clip"])
    assert len(top) == 5 and top["score"].is_monotonic_decreasing
    assert set(top["model"]) <= set(back.sources_["open_clip"])
    assert top["reason"].str.startswith("mostly").all()
    with pytest.raises(RecordsDataError, match="empty"):
        back.recommend("  ")
    with pytest.raises(RecordsDataError, match="unknown source"):
        back.recommend("flowers", sources=["nope"])


def test_cli_bench_recommend_and_recommend(records, tmp_path, cache):
    records.write(tmp_path / "lb", "csv")
    runner = CliRunner()
    result = runner.invoke(app, ["bench", "recommend", "--records", str(tmp_path / "lb"), "--setting", "unseen-models",
                                 "--method", "params", "--method", "family_mean", "--cache", str(cache), "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert set(report["methods"]) == {"params", "family_mean"}
    assert {"weighted_tau", "hit@1", "ndcg@10", "rec@10"} <= set(report["methods"]["params"])
    result = runner.invoke(app, ["recommend", "train", "--records", str(tmp_path / "lb"), "--out", str(tmp_path / "r"),
                                 "--steps", "50", "--members", "1", "--cache", str(cache)])
    assert result.exit_code == 0, result.output
    result = runner.invoke(app, ["recommend", "--recommender", str(tmp_path / "r"), "--dataset-description",
                                 "satellite images of land use", "--top", "3", "--cache", str(cache), "--json"])
    assert result.exit_code == 0, result.output
    assert len(json.loads(result.stdout)) == 3
    result = runner.invoke(app, ["bench", "recommend", "--records", str(tmp_path / "lb"), "--method", "nope"])
    assert result.exit_code == 2 and "unknown recommender" in result.output


def test_members_must_be_positive(records, cache):
    with pytest.raises(RecordsDataError, match="members"):
        ModelLens(members=0, cache=cache).fit(records)


def test_same_seed_same_model(records, cache):
    pairs = records.records.head(50)[["model", "dataset", "task", "metric"]]
    first = ModelLens(steps=30, seed=3, members=1, cache=cache).fit(records).predict(pairs, records.models, records.datasets)
    again = ModelLens(steps=30, seed=3, members=1, cache=cache).fit(records).predict(pairs, records.models, records.datasets)
    other = ModelLens(steps=30, seed=4, members=1, cache=cache).fit(records).predict(pairs, records.models, records.datasets)
    np.testing.assert_array_equal(first, again)
    assert not np.allclose(first, other)
