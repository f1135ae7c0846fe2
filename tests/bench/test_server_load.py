"""bench server-load on a tiny real dock (6 learnwares, SQLite, a real `modelreuse serve` subprocess):
searches are answered, every acknowledged upload ends verified (listed, downloadable, loadable) or
rejected with a reason, and no learnware is lost or listed twice."""

from __future__ import annotations

import json

from modelreuse.bench.server_load import run
from modelreuse.dock import Dock


def test_server_load_loses_and_duplicates_nothing(tmp_path, data_root):
    report = run(data_root, tmp_path, n=6, clients=4, seconds=5, upload_share=0.2, upload_pool=2, jobs=1,
                 settle_timeout=120)
    assert report.database == "sqlite" and report.clients == 4 and report.n_before == 6
    assert report.searches > 0 and report.latency_ms["search"]["p50"] <= report.latency_ms["search"]["p99"]
    assert not any(key.startswith("search") for key in report.errors), report.error_examples
    assert report.uploads_acknowledged == report.uploads <= 2
    assert report.uploads_unsettled == 0
    assert report.uploads_verified + report.uploads_rejected == report.uploads_acknowledged
    assert all(reason.strip(": ") for reason in report.rejected_reasons), report.rejected_reasons
    assert report.lost == [] and report.duplicated == []
    assert report.n_after == 6 + report.uploads_verified
    assert len(Dock(tmp_path / "dock", create=False)) == report.n_after
    assert json.loads(json.dumps(report.to_dict()))["n_before"] == 6
