"""``bench pave-scale`` on a tiny market: the dock is built, topped up (not rebuilt) and measured in a
new process; the report's numbers are consistent with the dock."""

from __future__ import annotations

from modelreuse.bench.pave_scale import run
from modelreuse.dock import Dock


def test_pave_scale_builds_tops_up_and_measures(tmp_path):
    first = run(tmp_path / "dock", 12, queries=2, repeats=1).to_dict()
    assert first["n"] == 12 and first["build"]["learnwares_added"] == 12
    assert first["top1_same_as_exhaustive"] == "2/2"  # at most 64 rows: the prefilter scores all of them
    assert 0 < first["warm_search_ms"]["p50"] <= first["warm_search_ms"]["p99"]
    assert first["vector_length"] == Dock(tmp_path / "dock").pave_base("text").vector_length
    assert first["spec_file_bytes"] > 4 * first["vector_length"] * 0.9  # float32 vector, compressed little
    again = run(tmp_path / "dock", 15, queries=1, repeats=1).to_dict()
    assert again["n"] == 15 and again["build"]["learnwares_added"] == 3
