import io
import json
import shutil

from rich.console import Console
from typer.testing import CliRunner

from modelreuse.bench.market import MarketReport
from modelreuse.cli import app
from modelreuse.reuse.base import REUSERS
from tests.conftest import BEIJING, SITES


def _run(sites, *extra):
    result = CliRunner().invoke(app, ["bench", "market", "--sites", str(sites), "--target", "PM2.5",
                                      "--shots", "30", "--max-rows", "900", "--json", *extra])
    assert result.exit_code == 0, result.output
    assert "(3/3)" in result.stderr  # progress on stderr, clean JSON on stdout
    return json.loads(result.stdout)


def _rendered(report: MarketReport) -> str:
    console = Console(record=True, width=200, file=io.StringIO())
    for renderable in report.render():
        console.print(renderable)
    return console.export_text()


def test_bench_market_cli_on_three_real_stations(data_root, tmp_path):
    sites = tmp_path / "sites"
    sites.mkdir()
    for p in BEIJING.iterdir():
        if any(s in p.name for s in SITES[:3]):
            shutil.copy(p, sites / p.name)
    report = _run(sites)
    assert report["n_learnwares"] == 3
    for key in ("top1_hit_rate", "mean_rank_of_own_site", "mean_oracle_score", "mean_scratch_score",
                "search_ms_p50", "spec_build_ms_p50", "users"):
        assert key in report
    assert set(report["reusers"]) == set(REUSERS.names()) | {"auto"}
    assert report["top1_hit_rate"] >= 2 / 3
    assert report["reusers"]["auto"] > report["mean_scratch_score"]
    shown = _rendered(MarketReport(**report))
    assert all(u["site"] in shown for u in report["users"]) and "oracle (best single)" in shown
    # unit invariance: the same random affine change of units for every site changes no ranking
    moved = _run(sites, "--rescale-features", "7", "--out", str(tmp_path / "moved.json"))
    assert json.loads((tmp_path / "moved.json").read_text()) == moved
    assert moved["rescale_features_seed"] == 7
    assert [u["own_rank"] for u in moved["users"]] == [u["own_rank"] for u in report["users"]]
    assert moved["top1_hit_rate"] == report["top1_hit_rate"]


def test_short_site_names():
    from modelreuse.bench.market import short_names

    assert short_names(["PRSA_Data_Dongsi_2013-2017", "PRSA_Data_Huairou_2013-2017"]) == ["Dongsi", "Huairou"]
    assert short_names(["batch1", "batch2"]) == ["batch1", "batch2"]
    assert short_names(["a_x", "a_x"]) == ["a_x", "a_x"]
