"""The dock against a real PostgreSQL server (a throwaway cluster started for this module).

Needs PostgreSQL's server binaries (Debian package ``postgresql``; `.ci/run` installs it). Locally
the test is skipped when they are missing, unless MODELREUSE_REQUIRE_POSTGRES=1 (set by CI).
"""


import pytest

from modelreuse.dock import Dock
from modelreuse.errors import DuplicateLearnwareError
from modelreuse.task import Task
from tests.conftest import user_half


def test_dock_on_postgresql(postgres_url, site_learnwares, beijing, tmp_path):
    dock = Dock(tmp_path / "artifacts", url=postgres_url)
    ids = {s: dock.submit(lw, validate=False) for s, lw in site_learnwares.items()}
    assert {c["name"] for c in dock.list()} == set(ids)
    with pytest.raises(DuplicateLearnwareError):
        dock.submit(site_learnwares["Wanliu"], validate=False)
    X, _ = user_half(beijing, "Huairou")
    assert dock.search(Task(X=X, task_type="regression"), k=1)[0].learnware_id == ids["Huairou"]
    dock.remove(ids["Huairou"])
    # a second client on the same database sees the same state
    other = Dock(tmp_path / "artifacts", url=postgres_url)
    assert len(other) == len(ids) - 1


def test_concurrent_submits_on_postgresql(postgres_url, data_root, tmp_path):
    """4 processes submit the same package, then 4 submit one each, on a database none has opened
    before: one row per package, the rest typed duplicates, nothing lost (see bench dock-races)."""
    from modelreuse.bench.dock_races import build_packages, submit_storm
    from modelreuse.bench.postgres import fresh_database

    packages = build_packages(tmp_path / "packages", data_root, 4)
    same = submit_storm(tmp_path / "same", fresh_database(postgres_url, "same"), packages, submitters=4, searchers=0, same_package=True)
    assert same["outcomes"] == {"ok": 1, "DuplicateLearnwareError": 3}, same
    assert same["lost"] == same["corrupt"] == same["untyped"] == 0, same
    each = submit_storm(tmp_path / "each", fresh_database(postgres_url, "each"), packages, submitters=4, searchers=0, same_package=False)
    assert each["untyped"] == each["lost"] == each["corrupt"] == 0, each
