"""The routing commands end to end on a real slice of RouterBench: import, bench, fit, route."""

import json

import pandas as pd
from typer.testing import CliRunner

from modelreuse.cli import app
from modelreuse.datasets.importers.routing import IMPORTERS
from modelreuse.records.routing import RoutingRecords
from tests.conftest import DATA

runner = CliRunner()


def _slice(tmp_path):
    records = IMPORTERS.get("routerbench")(DATA)
    table = records.table[records.table["task"] == "winogrande"]
    parts = [table[table["split"] == s].iloc[:n] for s, n in (("train", 160), ("test", 80))]
    path = tmp_path / "wino.parquet"
    RoutingRecords(pd.concat(parts, ignore_index=True)).write(path)
    return path


def test_import_writes_documented_records(tmp_path):
    result = runner.invoke(app, ["routing", "import", "--data", str(DATA), "--out", str(tmp_path),
                                 "--only", "routellm_mt_bench", "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["routellm_mt_bench"]["rows"] == 72
    assert (tmp_path / "routellm_mt_bench.parquet").is_file()
    bad = runner.invoke(app, ["routing", "import", "--out", str(tmp_path), "--only", "nope"])
    assert bad.exit_code == 2 and "unknown collection" in bad.output


def test_bench_route_reports_baselines_routers_aiq_and_plots(tmp_path):
    records = _slice(tmp_path)
    result = runner.invoke(app, ["bench", "route", "--records", str(records), "--router", "lookup", "--router", "knn",
                                 "--router", "mlp", "--seeds", "2", "--cache", str(tmp_path / "cache"),
                                 "--plots", str(tmp_path / "plots"), "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert set(report["baselines"]) >= {"oracle", "random", "best_single", "per_task_best"}
    assert report["baselines"]["oracle"]["score"] >= max(m["score"] for m in report["routers"].values())
    mlp = report["routers"]["mlp"]
    assert mlp["n_seeds"] == 2 and {"score", "score_std", "cost", "aiq", "per_task"} <= set(mlp)
    assert 0.0 <= mlp["aiq"] <= 1.0 and report["zero_router"]["winogrande"] > 0.5
    assert report["routers"]["knn"]["n_seeds"] == 1  # deterministic
    assert any(p.endswith("deferral_winogrande.png") for p in report["plots"])


def test_fit_then_route_prints_a_model(tmp_path):
    records = _slice(tmp_path)
    fit = runner.invoke(app, ["routing", "fit", "--records", str(records), "--router", "knn", "--out",
                              str(tmp_path / "router"), "--cache", str(tmp_path / "cache"), "--json"])
    assert fit.exit_code == 0, fit.output
    saved = json.loads(fit.stdout)
    stored = json.loads((tmp_path / "router" / "router.json").read_text())
    assert saved == {"router": "knn", "models": len(stored["models"]), "out": str(tmp_path / "router")}
    result = runner.invoke(app, ["route", "--router", str(tmp_path / "router"), "--json",
                                 "The trophy doesn't fit into the brown suitcase because it is too large. What is too large?"])
    assert result.exit_code == 0, result.output
    choice = json.loads(result.stdout)[0]
    assert choice["model"] in json.loads((tmp_path / "router" / "router.json").read_text())["models"]
    budget = runner.invoke(app, ["route", "--router", str(tmp_path / "router"), "--budget", "0", "What is 2+2?"])
    assert budget.exit_code == 2 and "below the cheapest" in budget.output
