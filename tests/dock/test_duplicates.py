"""Duplicates are refused before the sandboxed validation (issue 15: one was reported only after
46 s of it). The proof is behavioural: the duplicate is submitted under limits that make any
validation fail (the validation process gets 10 ms to start), and the error is still
``DuplicateLearnwareError``; the same limits on a new package give the validation's error."""

from __future__ import annotations

import pytest

from modelreuse.dock import Dock
from modelreuse.dock.validation import ValidationLimits
from modelreuse.errors import DuplicateLearnwareError, ModelPredictError
from tests.dock.conftest import build_ridge

#: Limits no validation can meet: the child process cannot start in 10 ms.
FAILING = ValidationLimits(startup_timeout_s=0.01)


def _state(dock: Dock) -> tuple[int, list[str]]:
    files = sorted(p.relative_to(dock.root).as_posix() for p in dock.root.rglob("*")
                   if p.is_file() and p.name not in ("dock.sqlite", ".lock"))
    return len(dock), files


@pytest.fixture
def docked(station_rows, tmp_path):
    """A dock holding one real learnware (validated in the sandbox), and that learnware."""
    dock = Dock(tmp_path / "dock")
    lw = build_ridge(tmp_path / "lw", station_rows)
    return dock, lw, dock.submit(lw)


def test_failing_limits_do_fail_a_new_package(docked, station_rows, tmp_path):
    dock, _, _ = docked
    before = _state(dock)
    with pytest.raises(ModelPredictError, match="did not start"):
        dock.submit(build_ridge(tmp_path / "other", station_rows, alpha=5.0), limits=FAILING)
    assert _state(dock) == before


@pytest.mark.parametrize("as_zip", [False, True], ids=["dir", "zip"])
def test_duplicate_is_refused_before_validation(docked, tmp_path, as_zip):
    dock, lw, learnware_id = docked
    package = lw.to_zip(tmp_path / "again.zip") if as_zip else lw.root
    before = _state(dock)
    with pytest.raises(DuplicateLearnwareError, match=learnware_id):
        dock.submit(package, limits=FAILING)
    assert _state(dock) == before
    assert not list((dock.root / "staging").iterdir())


def test_submit_many_refuses_a_docked_package_before_validating_any(docked, station_rows, tmp_path):
    dock, lw, learnware_id = docked
    new = build_ridge(tmp_path / "new", station_rows, alpha=5.0)
    before = _state(dock)
    with pytest.raises(DuplicateLearnwareError, match=learnware_id):
        dock.submit_many([new, lw], limits=FAILING)
    assert _state(dock) == before


def test_submit_many_refuses_a_package_given_twice(station_rows, tmp_path):
    dock = Dock(tmp_path / "dock")
    lw = build_ridge(tmp_path / "lw", station_rows)
    other = build_ridge(tmp_path / "other", station_rows, alpha=5.0)
    with pytest.raises(DuplicateLearnwareError, match="packages 0 and 2 of the batch"):
        dock.submit_many([lw, other, lw.to_zip(tmp_path / "lw.zip")], limits=FAILING)
    assert _state(dock) == (0, [])
