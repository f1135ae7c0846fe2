"""Cache files appear whole or not at all (parallel test workers and runs share the cache)."""

from __future__ import annotations

import numpy as np
import pytest

from modelreuse.config import write_cache_file


def test_cache_file_is_written_whole_with_its_suffix_kept(tmp_path):
    target = tmp_path / "deep" / "emb.npy"
    write_cache_file(target, lambda tmp: np.save(tmp, np.arange(4.0)))
    np.testing.assert_array_equal(np.load(target), np.arange(4.0))
    assert [p.name for p in target.parent.iterdir()] == ["emb.npy"]


def test_a_failed_write_leaves_neither_the_file_nor_a_temporary(tmp_path):
    target = tmp_path / "features.npz"

    def half_then_fail(tmp):
        tmp.write_bytes(b"PK\x03\x04 half a zip")
        raise OSError(28, "No space left on device")

    with pytest.raises(OSError, match="No space"):
        write_cache_file(target, half_then_fail)
    assert list(tmp_path.iterdir()) == []
