"""bench dock-scale on a tiny real market: the dock, its user table and index are kept, and the user's
own learnware is found by the CLI in a new process."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pandas as pd

from modelreuse.bench.dock_scale import COLUMNS, run
from modelreuse.dock import Dock


def test_dock_scale_keeps_a_searchable_dock(tmp_path, data_root):
    report = run(data_root, 6, tmp_path / "dock", users=2, repeats=2, jobs=2)
    assert report.n == 6 and report.users == 2 and 0 <= report.top1_hit_rate <= 1
    assert report.submit_per_s > 0 and report.cold_cli_s > 0 and report.index_bytes > 0
    assert report.warm_rank_p50_ms <= report.warm_rank_p99_ms
    dock = Dock(tmp_path / "dock", create=False)
    assert len(dock) == 6  # the incremental-add learnware was removed again
    user = pd.read_csv(tmp_path / "dock" / "user.csv")
    assert list(user.columns) == COLUMNS
    done = subprocess.run([str(Path(sys.executable).parent / "modelreuse"), "dock", "search", "--dock",
                           str(tmp_path / "dock"), "--data", str(tmp_path / "dock" / "user.csv"), "--json"],
                          capture_output=True, text=True, check=True)
    ranking = json.loads(done.stdout)
    assert {e["learnware_id"] for e in ranking["entries"]} <= {c["id"] for c in dock.list()}
    assert json.loads(json.dumps(report.to_dict()))["n"] == 6
