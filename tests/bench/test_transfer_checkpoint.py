"""bench transfer --checkpoint: finished targets survive an interrupted run, only under the same protocol."""

from __future__ import annotations

import numpy as np

from modelreuse.bench.transfer_bench import _read_checkpoint, _write_checkpoint


def _result(seed: int) -> dict:
    rng = np.random.default_rng(seed)
    return {"models": ["a", "b", "c"], "truth": rng.random(3), "dims": [8, 16, 32], "n_rows": 500,
            "scores": {"logme": rng.normal(size=3), "leep": rng.normal(size=3)}, "seconds": {"logme": 0.1, "leep": 0.01}}


def test_checkpoint_round_trips_and_ignores_another_protocol(tmp_path):
    path = tmp_path / "progress.json"
    protocol = {"modality": "text", "max_rows": 2000, "seed": 0, "metrics": ["logme", "leep"]}
    saved = {"mr": _result(0), "cr": _result(1)}
    _write_checkpoint(path, protocol, saved)
    loaded = _read_checkpoint(path, protocol)
    assert list(loaded) == ["mr", "cr"]
    for name, result in saved.items():
        np.testing.assert_array_equal(loaded[name]["truth"], result["truth"])
        np.testing.assert_array_equal(loaded[name]["scores"]["logme"], result["scores"]["logme"])
        assert loaded[name]["models"] == result["models"] and loaded[name]["n_rows"] == 500
    assert _read_checkpoint(path, {**protocol, "max_rows": 1000}) == {}
    assert _read_checkpoint(tmp_path / "missing.json", protocol) == {}
    assert _read_checkpoint(None, protocol) == {}
