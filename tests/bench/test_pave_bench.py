"""``modelreuse bench pave`` on two small real text corpora: the whole protocol through the CLI
(learnwares built and submitted to a real dock, PAVE and RKME searches, every column, "beyond",
the approximation check, speed, goals, plot), resuming from its checkpoint, and its parts; and
``modelreuse bench market --spec pave`` on per-site tables of real reviews."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
import torch
from typer.testing import CliRunner

from modelreuse.bench import _pave_models as heads
from modelreuse.bench._pave_approx import FullRankBase, expanded
from modelreuse.bench._pave_data import load_corpus, split_users
from modelreuse.bench._pave_report import win_tie_loss
from modelreuse.cli import app
from modelreuse.specs.pave import PAVESpec
from modelreuse.specs.pave_base import PAVEBase

TINY = ["--modality", "text", "--datasets", "sms_spam,tweet_irony", "--shots", "4", "--max-developer", "30",
        "--max-test", "30", "--approx", "2", "--spec-steps", "2", "--threads", "1", "--json"]


pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")


@pytest.fixture(scope="module")
def bench_run(data_root, tmp_path_factory):
    """The CLI on two corpora with a checkpoint, then the same command again."""
    folder = tmp_path_factory.mktemp("pave-bench")
    args = [*TINY, "--data", str(data_root), "--cache", str(folder / "cache"), "--checkpoint",
            str(folder / "run.json"), "--plot", str(folder / "plot.png")]
    first = CliRunner().invoke(app, ["bench", "pave", *args])
    assert first.exit_code == 0, first.output
    again = CliRunner().invoke(app, ["bench", "pave", *args])
    assert again.exit_code == 0, again.output
    return folder, first, again


@pytest.mark.slow
def test_report_has_every_column_goal_and_speed_figure(bench_run):
    folder, first, _ = bench_run
    report = json.loads(first.stdout)
    assert list(report["tasks"]) == ["sms_spam", "tweet_irony"]
    for task in report["tasks"].values():
        assert set(task["main"]) == {"finetune_base", "head_base", "random", "rkme", "pave", "oracle"}
        assert task["main"]["oracle"] == max(task["as_is"].values())
        assert task["main"]["pave"] == np.mean([task["as_is"][n] for n in task["picks"]["pave"]])
        assert task["main"]["pave"] <= task["main"]["oracle"]
        assert len(task["rankings"]["pave"]) == 4 and len(task["as_is"]) == 4
        # twins sketch the same inputs: their RKMEs tie, so RKME's preference is a coin flip (1/2)
        assert task["twins"]["rkme"]["own_inverted"] == 0.5
        assert len(task["finetuned"]) == 2
        assert task["rows"]["user"] == 8 and task["rows"]["test"] == 30
    for name in report["tasks"]:  # beyond: the user's own twins are out of the searches and of Random/Oracle
        own = {f"{name}-good", f"{name}-corrupted"}
        assert own.isdisjoint(report["tasks"][name]["picks"]["beyond_pave"])
        assert own.isdisjoint(report["tasks"][name]["picks"]["beyond_rkme"])
        assert set(report["tasks"][name]["finetuned"]).isdisjoint(own)
    main = report["summary"]["main"]
    assert main["pave_scores_as_oracle"].endswith("/2") and "rkme" in main["pave_win_tie_loss"]
    assert {g["goal"].split(" ")[0] for g in report["goals"]} >= {"PAVE", "beyond:", "Spearman(cos(B),"}
    assert all(g["met"] in (True, False, None) for g in report["goals"])
    speed = report["speed"]
    assert speed["vector_length"] == PAVEBase.create("text").vector_length
    assert speed["bytes_per_spec_file"] > 4 * speed["vector_length"]
    assert speed["model_vector_s"]["max"] > 0 and speed["task_vector_s"]["max"] > 0
    assert report["summary"]["learnware_test_accuracy"]["good"] > report["summary"]["learnware_test_accuracy"]["corrupted"]
    assert (folder / "plot.png").stat().st_size > 1000


@pytest.mark.slow
def test_approximation_check_cos_b_tracks_cos_ba(bench_run):
    """Theorem 4 on the real base: cos(B) and cos(BA) agree closely; the full-rank fit is reported."""
    approx = json.loads(bench_run[1].stdout)["approximation"]
    assert approx["vectors"] == ["sms_spam:task", "sms_spam:model", "tweet_irony:task", "tweet_irony:model"]
    assert approx["pairs"] == 6
    assert approx["max_abs_cos_b_minus_ba"] < 0.05
    assert approx["pearson"]["b_vs_ba"] > 0.95
    assert -1.0 <= approx["spearman"]["b_vs_full"] <= 1.0
    assert approx["vector_entries"]["full"] == approx["vector_entries"]["ba"] > approx["vector_entries"]["b"]


@pytest.mark.slow
def test_rerun_resumes_from_the_checkpoint(bench_run):
    _, first, again = bench_run
    assert again.stderr.count("from the checkpoint") == 4
    assert "full-rank fit" not in again.stderr
    assert json.loads(again.stdout)["tasks"] == json.loads(first.stdout)["tasks"]


@pytest.mark.parametrize("args", [["--datasets", "sms_spam"], ["--datasets", "sms_spam,nope"],
                                  ["--modality", "audio"], ["--noise", "1.5"]])
def test_bad_options_are_typed_errors(args, tmp_path):
    result = CliRunner().invoke(app, ["bench", "pave", *args, "--checkpoint", str(tmp_path / "c.json")])
    assert result.exit_code == 2
    assert "InvalidTaskDataError" in result.stderr
    assert not (tmp_path / "c.json").exists()


def test_a_damaged_checkpoint_is_a_typed_error(tmp_path):
    (tmp_path / "c.json").write_text("{not json")
    result = CliRunner().invoke(app, ["bench", "pave", "--datasets", "sms_spam,tweet_irony",
                                      "--checkpoint", str(tmp_path / "c.json")])
    assert result.exit_code == 2 and "InvalidTaskDataError" in result.stderr
    assert (tmp_path / "c.json").read_text() == "{not json" and not (tmp_path / "c.json.work").exists()


def test_user_split_has_k_shots_per_class_disjoint_from_the_developer(data_root):
    corpus = load_corpus("text", "sms_spam", data_root)
    split = split_users(corpus, 5, 0, 100, 50)
    assert np.bincount(corpus.y_train[split.user]).tolist() == [5, 5]
    assert not set(split.user) & set(split.developer)
    assert len(split.developer) == 100 and len(split.test) == 50
    assert set(corpus.y_train[split.developer]) == {0, 1}


def test_as_is_score_maps_learnware_classes_through_the_shots():
    # a 3-class learnware on a 2-class task: outputs 0 and 2 mean class 1, output 1 means class 0
    pred_shots, y_shots = np.array([0, 2, 1, 1, 0]), np.array([1, 1, 0, 0, 1])
    assert heads.label_map(pred_shots, y_shots, 3, 2).tolist() == [1, 0, 1]
    assert heads.as_is_accuracy(pred_shots, y_shots, np.array([2, 1, 0, 1]), np.array([1, 0, 1, 1]), 3, 2) == 0.75
    # an output never predicted on the shots falls back to the most frequent class
    assert heads.label_map(np.array([0, 0, 0]), np.array([1, 1, 0]), 2, 2).tolist() == [1, 1]


def test_noisy_labels_replace_the_requested_share():
    y = np.zeros(20000, dtype=np.int64)
    noisy = heads.noisy_labels(y, 4, 0.8, seed=3)
    assert abs(np.mean(noisy != 0) - 0.8 * 3 / 4) < 0.02
    assert np.array_equal(noisy, heads.noisy_labels(y, 4, 0.8, seed=3))


def test_win_tie_loss_counts_ties_at_three_decimals():
    assert win_tie_loss([0.9, 0.5, 0.7001], [0.8, 0.6, 0.7]) == "1/1/1"


@pytest.mark.parametrize("modality", ["text", "image"])
def test_full_rank_stand_in_gives_the_exact_change_and_expansion_is_b_times_a(modality):
    base = PAVEBase.create(modality, rank=4)
    stand_in = FullRankBase.of(base)
    target = base.targets[0]
    fan_in = int(np.prod(base.lora_A[target].shape[1:]))
    assert np.array_equal(stand_in.lora_A[target].reshape(stand_in.rank, fan_in)[:fan_in], np.eye(fan_in))
    assert stand_in.lora_A[target].shape[1:] == base.lora_A[target].shape[1:]
    assert stand_in.alpha == stand_in.rank == max(int(np.prod(a.shape[1:])) for a in base.lora_A.values())
    rng = np.random.default_rng(0)
    sizes = [base.b_shapes[t][0] * stand_in.rank for t in base.targets]
    flat = rng.normal(size=sum(sizes))
    change = stand_in.change(flat, base)
    first = flat[: sizes[0]].reshape(-1, stand_in.rank)[:, :fan_in]
    assert np.array_equal(change[: first.size], first.ravel())
    spec = PAVESpec.from_vector(rng.normal(size=base.vector_length), base, steps=1, role="task", n_classes=2)
    b = spec.vector[: int(np.prod(base.b_shapes[target]))].astype(np.float64).reshape(-1, 4)
    a = base.lora_A[target].reshape(4, fan_in)
    assert np.allclose(expanded(spec, base)[: b.shape[0] * fan_in], (b @ a).ravel())


@pytest.fixture
def one_torch_thread():
    """Tiny fits on busy cores: one torch thread (the harnesses keep the caller's setting)."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.mark.slow
def test_market_with_pave_specs_on_text_sites(data_root, tmp_path, one_torch_thread):
    """Two sites of real sentiment texts: learnwares carry PAVE model vectors, users rank by task vector."""
    sites = tmp_path / "sites"
    sites.mkdir()
    for name in ("mr", "cr"):
        corpus = load_corpus("text", name, data_root)
        rows = np.concatenate([np.flatnonzero(corpus.y_train == c)[:20] for c in (0, 1)])
        pd.DataFrame({"review": [corpus.X_train[i] for i in rows], "sentiment": corpus.y_train[rows]}) \
            .sample(frac=1.0, random_state=0).to_csv(sites / f"{name}.csv", index=False)
    args = ["bench", "market", "--sites", str(sites), "--target", "sentiment", "--task", "classification",
            "--text-column", "review", "--shots", "10", "--json"]
    result = CliRunner().invoke(app, [*args, "--spec", "pave", "--dock", str(tmp_path / "dock")])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["spec"] == "pave" and report["n_learnwares"] == 2
    assert {u["site"] for u in report["users"]} == {"mr", "cr"}
    assert all(u["own_rank"] in (1, 2) for u in report["users"])
    from modelreuse.dock import Dock

    dock = Dock(tmp_path / "dock")
    assert all("pave" in card["spec_kinds"] for card in dock.list())
    # PAVE needs text classification sites: a typed error, nothing built
    refused = CliRunner().invoke(app, ["bench", "market", "--sites", str(sites), "--target", "sentiment",
                                       "--spec", "pave", "--dock", str(tmp_path / "other")])
    assert refused.exit_code == 2 and "InvalidTaskDataError" in refused.stderr
    assert not (tmp_path / "other").exists()
