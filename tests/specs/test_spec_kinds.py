"""Contract of every registered spec kind (one parametrised test over ``SPEC_KINDS.names()``): save/load
round trip, a fixed-length ``embedding()``, and malformed or hostile files refused with
:class:`SpecError` without running anything from them. A new kind adds its example to ``EXAMPLES``."""

from __future__ import annotations

import io
import pickle
import zipfile
from pathlib import Path

import numpy as np
import pytest

from modelreuse.datasets.images import mnist
from modelreuse.errors import SpecError, UnknownNameError
from modelreuse.specs.base import SPEC_KINDS, kind_of, load_spec, spec_file
from modelreuse.specs.pave import PAVESpec
from modelreuse.specs.pave_base import PAVEBase
from modelreuse.specs.records import RecordsSpec
from modelreuse.specs.rkme import RKMESpec
from modelreuse.specs.semantic import SemanticSpec
from tests.conftest import DATA, SITES


def _rkme(beijing: dict, site: str) -> RKMESpec:
    return RKMESpec.fit(np.nan_to_num(beijing[site]["X"][:400]), m=20, seed=1)


def _semantic(beijing: dict, site: str) -> SemanticSpec:
    return SemanticSpec(name=site, description=f"PM2.5 at {site}, {len(beijing[site]['y'])} hourly rows",
                        tags=["air"], task_type="regression", modality="tabular")


def _records(beijing: dict, site: str) -> RecordsSpec:
    """RMSE of the station's own mean on every station (real numbers from the real rows)."""
    mean = float(np.mean(beijing[site]["y"]))
    rows = [{"dataset": other, "task": "PM2.5", "metric": "rmse", "score": float(np.sqrt(np.mean((beijing[other]["y"] - mean) ** 2)))}
            for other in SITES]
    return RecordsSpec(rows, family="constant")


def _pave(beijing: dict, site: str) -> PAVESpec:
    """A task vector of real MNIST digits (a different pair of digits per station) on a small image base."""
    X, y = mnist(DATA, "test")
    rows = np.concatenate([np.flatnonzero(y == d)[:2] for d in ((0, 1) if site == "Huairou" else (3, 8))])
    return PAVESpec.fit_task(X[rows], y[rows], PAVEBase.create("image", rank=2, seed=0), k=2, steps=2)


EXAMPLES = {"rkme": _rkme, "semantic": _semantic, "records": _records, "pave": _pave}


class _WritesCanary:
    """Unpickling this calls ``open(canary, "w")``: the file appears if anything unpickles it."""

    def __init__(self, canary: Path):
        self.canary = canary

    def __reduce__(self):
        return open, (str(self.canary), "w")


def _example(name: str, beijing: dict, site: str):
    if name not in EXAMPLES:
        pytest.fail(f"spec kind {name!r} has no example in EXAMPLES; add one built from real data")
    return EXAMPLES[name](beijing, site)


def _hostile_files(path: Path, canary: Path, honest: bytes) -> list[Path]:
    """A raw pickle stream, a zip whose member is a pickled object array, random and truncated bytes."""
    raw = path.with_name("pickle" + path.suffix)
    raw.write_bytes(pickle.dumps(_WritesCanary(canary)))
    buf = io.BytesIO()
    np.save(buf, np.array([_WritesCanary(canary)] * 3, dtype=object), allow_pickle=True)
    zipped = path.with_name("zipped" + path.suffix)
    with zipfile.ZipFile(zipped, "w") as zf:
        for member in ("Z.npy", "beta.npy", "center.npy", "scale.npy", "n.npy", "gamma.npy"):
            zf.writestr(member, buf.getvalue())
    noise = path.with_name("noise" + path.suffix)
    noise.write_bytes(np.random.default_rng(0).integers(0, 256, 4096, dtype=np.uint8).tobytes())
    truncated = path.with_name("truncated" + path.suffix)
    truncated.write_bytes(honest[: len(honest) // 2])
    return [raw, zipped, noise, truncated]


@pytest.mark.parametrize("name", SPEC_KINDS.names())
def test_spec_kind_contract(name, beijing, tmp_path):
    first, second = _example(name, beijing, "Huairou"), _example(name, beijing, "Wanliu")
    assert kind_of(first) == name and spec_file(name) == f"specs/{name}{SPEC_KINDS.metadata(name)['file_suffix']}"
    path = tmp_path / Path(spec_file(name)).name
    first.save(path)
    again = load_spec(name, path)
    assert type(again) is type(first)
    np.testing.assert_array_equal(again.embedding(), first.embedding())
    again.save(tmp_path / ("copy" + path.suffix))
    np.testing.assert_array_equal(load_spec(name, tmp_path / ("copy" + path.suffix)).embedding(), first.embedding())
    e1, e2 = first.embedding(), second.embedding()
    assert e1.ndim == 1 and e1.shape == e2.shape and np.isfinite(e1).all() and not np.array_equal(e1, e2)
    canary = tmp_path / "canary"
    for hostile in _hostile_files(path, canary, path.read_bytes()):
        with pytest.raises(SpecError):
            load_spec(name, hostile)
    assert not canary.exists()


def test_unknown_kind_lists_the_registered_ones(tmp_path):
    with pytest.raises(UnknownNameError, match="registered: " + ", ".join(SPEC_KINDS.names())):
        load_spec("fingerprint", tmp_path / "x.json")
    with pytest.raises(SpecError, match="not a registered spec kind"):
        kind_of(np.zeros(3))
