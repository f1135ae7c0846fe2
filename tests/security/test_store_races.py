"""Races and crashes against the dock's store (issue: no upload or race can corrupt the dock).

Real forked processes on a real SQLite dock (the PostgreSQL variant is in tests/dock/test_postgres.py),
bounded and seeded; the full-size numbers come from ``modelreuse bench dock-races``.
"""

from __future__ import annotations

import json
import os
import shutil

import pytest

from modelreuse.bench.dock_races import build_packages, kill_trials, remove_vs_resubmit, submit_storm
from modelreuse.cli import plain
from modelreuse.dock import Dock
from modelreuse.dock.artifacts import TMP_PREFIX
from modelreuse.dock.locking import staging_folder
from modelreuse.learnware import Learnware
from tests.security.conftest import assert_cli_rejects, cli, rewrite_manifest


@pytest.fixture(scope="module")
def packages(data_root, tmp_path_factory):
    return build_packages(tmp_path_factory.mktemp("race-packages"), data_root, 4)


@pytest.fixture(scope="module")
def search_spec(packages, tmp_path_factory):
    path = tmp_path_factory.mktemp("race-spec") / "spec.npz"
    Learnware.open(packages[0]).rkme.save(path)
    return path


@pytest.mark.parametrize("same_package", [True, False])
def test_concurrent_submits_on_a_fresh_root_store_each_package_once(tmp_path, packages, search_spec, same_package):
    result = submit_storm(tmp_path / "dock", None, packages, submitters=4, searchers=1, same_package=same_package,
                          search_spec=search_spec, search_s=2.0)
    assert result["untyped"] == 0, result
    assert result["lost"] == result["duplicated"] == result["corrupt"] == 0, result
    assert result["stored"] == result["acknowledged"] == result["expected_stored"], result
    if same_package:
        assert result["outcomes"] == {"ok": 1, "DuplicateLearnwareError": 3}, result


def test_remove_racing_a_resubmit_never_leaves_a_row_without_files(tmp_path, packages):
    result = remove_vs_resubmit(tmp_path / "dock", None, packages[0], rounds=3)
    assert result["untyped"] == 0 and result["rows_without_files"] == 0, result


def test_kill_9_during_submit_and_remove_leaves_only_what_repair_removes(tmp_path, packages):
    result = kill_trials(tmp_path / "dock", None, packages, trials=4, seed=1, operations=("submit", "remove"))
    assert result["rows_without_files"] == 0, result
    assert result["problems_after_repair"] == 0 and result["stray_processes"] == 0, result


def test_check_reports_and_repairs_crash_leftovers(tmp_path, packages):
    dock = Dock(tmp_path / "dock")
    kept, lost = dock.submit(packages[0], validate=False), dock.submit(packages[1], validate=False)
    lost_sha = next(s for s in dock.artifacts.object_hashes() if s.startswith(lost))
    dock.artifacts.object_path(lost_sha).unlink()  # a row whose object is gone (deleted by hand)
    orphan = dock.artifacts.object_path("ab" * 32)
    orphan.parent.mkdir(parents=True, exist_ok=True)
    orphan.write_bytes(b"an object no row refers to")
    (dock.artifacts.objects / "ab" / f"{TMP_PREFIX}123").write_bytes(b"an interrupted write")
    abandoned = tmp_path / "dock" / "staging" / "submit-dead"
    abandoned.mkdir(parents=True)
    os.utime(abandoned, (0, 0))  # old, and no live process holds its lock
    dock.index.rebuild()
    shutil.rmtree(dock.artifacts.unpacked_path(kept))  # a cache that is simply rebuilt
    stray_index = [dock.index.folder / ("f" * 32), dock.index.folder / ".manifest.json.dead.tmp"]
    stray_index[0].mkdir()  # arrays written before a crash, never named by the index manifest
    stray_index[1].write_text("{")
    with staging_folder(dock.root) as live:
        report = dock.check()
        assert report.missing_objects == [lost] and not report.ok
        assert report.orphan_objects == [orphan.relative_to(dock.root).as_posix()]
        assert report.orphan_unpacked == [f"unpacked/{lost}"]
        assert len(report.leftovers) == 1 and report.abandoned_staging == ["staging/submit-dead"]
        assert report.missing_unpacked == [kept]
        assert report.orphan_index == sorted(p.relative_to(dock.root).as_posix() for p in stray_index)
        repaired = dock.check(repair=True)
        assert repaired.repaired and live.is_dir()  # a live submit's staging folder is left alone
    assert dock.check().ok and [c["id"] for c in dock.list()] == [kept]
    assert dock.load_model(kept).predict(Learnware.open(packages[0]).rkme.Z).shape[0] == 10
    assert not orphan.exists() and not abandoned.exists() and not any(p.exists() for p in stray_index)
    (card,) = dock.list()
    assert dock.index.unreferenced() == [] and dock.index.get(card["feature_space"]).ids == [kept]


def test_cli_check_exit_codes(tmp_path, packages):
    root = tmp_path / "dock"
    Dock(root).submit(packages[0], validate=False)
    assert cli("dock", "check", "--dock", root).exit_code == 0
    (root / "staging" / "submit-dead").mkdir(parents=True)
    os.utime(root / "staging" / "submit-dead", (0, 0))
    result = cli("dock", "check", "--dock", root, "--json")
    assert result.exit_code == 1 and json.loads(result.output)["abandoned_staging"] == ["staging/submit-dead"]
    assert json.loads(cli("dock", "check", "--dock", root, "--repair", "--json").output)["repaired"]
    assert cli("dock", "check", "--dock", root).exit_code == 0


MARKUP_NAMES = ["[/x] evil", "[link=https://evil.example]click me[/link]", "[blink]urgent[/blink] [bold red]"]


def test_names_are_printed_as_plain_text_never_markup(tmp_path, packages, fitted):
    root = tmp_path / "dock"
    dock = Dock(root)
    for i, name in enumerate(MARKUP_NAMES):
        lw = Learnware.build(tmp_path / f"p{i}", fitted.regressor, fitted.rkme, name=name, task_type="regression",
                             target="PM2.5", feature_names=fitted.feature_names, tags=[name[:20]])
        dock.submit(lw, validate=False)
    listing = cli("dock", "list", "--dock", root)
    assert listing.exit_code == 0, listing.output
    for fragment in ("[/x]", "[link=", "[blink]", "[bold"):  # shown literally (cells may wrap)
        assert fragment in listing.output, listing.output
    assert "\x1b" not in listing.output  # no hyperlink or style escape reached the terminal
    spec = tmp_path / "spec.npz"
    fitted.rkme.save(spec)
    search = cli("dock", "search", "--dock", root, "--spec", spec)
    assert search.exit_code == 0 and "[/x]" in search.output, search.output


def test_plain_shows_control_characters_as_escapes():
    shown = plain("ok\x1b[31mred\x07\u202eevil\nnext").plain
    assert "\x1b" not in shown and "\u202e" not in shown and "\n" not in shown
    assert shown == "ok\\x1b[31mred\\x07\\u202eevil\\nnext"


def test_cli_errors_are_typed_with_exit_2(tmp_path, valid_package):
    assert_cli_rejects(cli("dock", "search", "--dock", tmp_path / "nodock", "--data", "x.csv"), "DockNotFoundError")
    Dock(tmp_path / "dock")
    assert_cli_rejects(cli("dock", "search", "--dock", tmp_path / "dock", "--data", tmp_path / "missing.csv"),
                       "FileNotFoundError")
    rewrite_manifest(valid_package, name="[/x] evil")
    Dock(tmp_path / "dock").submit(valid_package, validate=False)
    result = cli("dock", "submit", valid_package, "--dock", tmp_path / "dock")
    assert_cli_rejects(result, "DuplicateLearnwareError")
    assert "[/x] evil" in result.output
