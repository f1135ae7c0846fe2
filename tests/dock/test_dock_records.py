"""Records specs in the dock: a real leaderboard of the dock's own models (each station's PM2.5 model
scored by RMSE on every station's held-out rows), exported, used to train ModelLens, and used to rank
the dock's learnwares."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
from typer.testing import CliRunner

from modelreuse.cli import app
from modelreuse.dock import Dock
from modelreuse.errors import SpecError
from modelreuse.records.leaderboard import read_leaderboard
from modelreuse.selection.learned.modellens import ModelLens
from tests.conftest import SITES, build_site_learnware, user_half


@pytest.fixture(scope="module")
def station_rmse(beijing):
    return {f"{site} held-out": user_half(beijing, site) for site in SITES}


@pytest.fixture(scope="module")
def records_dock(beijing, station_rmse, tmp_path_factory):
    packages = tmp_path_factory.mktemp("records-learnwares")
    learnwares = [build_site_learnware(packages, s, beijing[s], beijing["_feature_names"], station_rmse)
                  for s in SITES]
    dock = Dock(tmp_path_factory.mktemp("records-dock"))
    return dock, dock.submit_many(learnwares), learnwares


@pytest.fixture(scope="module")
def recommender(records_dock, tmp_path_factory):
    dock = records_dock[0]
    return ModelLens(steps=150, members=1, seed=0, cache=tmp_path_factory.mktemp("cache")).fit(dock.leaderboard())


def test_leaderboard_holds_the_measured_rmse(records_dock, station_rmse):
    dock, ids, learnwares = records_dock
    board = dock.leaderboard()
    assert board.report["records"] == len(SITES) ** 2 and board.report["groups"] == len(SITES)
    row = board.records.set_index(["model", "dataset"]).loc[("Wanliu", "Wanliu held-out")]
    spec_score = {r["dataset"]: r["score"] for r in learnwares[SITES.index("Wanliu")].records.records}
    assert row["score"] == spec_score["Wanliu held-out"] and not row["higher_is_better"]
    assert set(dock.catalogue()["learnware_id"]) == set(ids)


def test_recommend_ranks_the_dock_with_reasons(records_dock, recommender):
    dock, ids, _ = records_dock
    ranking = dock.recommend("hourly PM2.5 at a Beijing monitoring station", recommender,
                             task="PM2.5 regression", metric="rmse", k=3)
    assert ranking.method == "records" and len(ranking) == 3 and set(ranking.ids) <= set(ids)
    scores = [e.score for e in ranking]
    assert scores == sorted(scores, reverse=True)
    for entry in ranking:
        assert not entry.details["size_ladder"]      # the station models have no parameter counts
        assert entry.score == pytest.approx(entry.details["prior"] + entry.details["interaction"])
        assert entry.reason.startswith("mostly")
    direct = recommender.recommend("hourly PM2.5 at a Beijing monitoring station", "PM2.5 regression", "rmse",
                                   top=3, candidates=dock.catalogue())
    assert list(direct["model"]) == [e.name for e in ranking]
    with pytest.raises(ValueError, match="k must be"):
        dock.recommend("PM2.5", recommender, k=0)


def test_a_malformed_records_spec_is_rejected_and_nothing_is_stored(records_dock, tmp_path):
    dock, _, learnwares = records_dock
    bad = shutil.copytree(learnwares[0].root, tmp_path / "bad")
    spec = json.loads((bad / "specs" / "records.json").read_text())
    spec["records"][0]["score"] = None
    (bad / "specs" / "records.json").write_text(json.dumps(spec))
    before, objects = len(dock), sorted((dock.root / "objects").rglob("*"))
    with pytest.raises(SpecError, match="finite score"):
        dock.submit(bad)
    assert len(dock) == before and sorted((dock.root / "objects").rglob("*")) == objects


def test_cli_exports_records_and_recommends(records_dock, recommender, tmp_path):
    dock = records_dock[0]
    runner = CliRunner()
    out = runner.invoke(app, ["dock", "records", "--dock", str(dock.root), "--out", str(tmp_path / "board"), "--json"])
    assert out.exit_code == 0, out.output
    exported = read_leaderboard(tmp_path / "board")
    np.testing.assert_allclose(np.sort(exported.records["score"]), np.sort(dock.leaderboard().records["score"]))
    recommender.save(tmp_path / "rec")
    out = runner.invoke(app, ["dock", "recommend", "PM2.5 at a station", "--dock", str(dock.root),
                              "--recommender", str(tmp_path / "rec"), "--metric", "rmse", "--k", "2", "--json"])
    assert out.exit_code == 0, out.output
    assert len(json.loads(out.output)["entries"]) == 2
