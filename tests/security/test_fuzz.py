"""Property-based fuzzing of everything that reads a package (issue 13, must-be-true #7).

Property: whatever the input, the reader either succeeds or raises a
:class:`~modelreuse.errors.ModelReuseError`; nothing else (no ``TypeError``, ``RecursionError``,
``BadZipFile``, ``MemoryError``...). Each target starts from a real, valid package and mutates it:

* ``manifest_dict``: :meth:`Manifest.parse` on JSON-like dicts mutated from the valid manifest;
* ``manifest_bytes``: ``Learnware.open`` on a folder whose ``manifest.json`` is random bytes or
  mutated valid JSON;
* ``spec_rkme`` / ``spec_semantic`` / ``spec_records``: :func:`modelreuse.specs.base.load_spec`
  on the valid spec files with bytes flipped, inserted or cut, JSON trees mutated, npz members
  swapped, dropped, added, retyped or reshaped;
* ``zip``: ``Learnware.open`` on the valid zip with bytes flipped or cut, and on zips rebuilt with
  mutated entry names, modes and compression methods; a refused zip must leave nothing behind.

CI runs a few examples per target (``MODELREUSE_FUZZ_EXAMPLES``, default 40, derandomised);
``benchmarks/fuzz_packages.py --cases 10000`` runs the same targets at scale and counts outcomes.
"""

from __future__ import annotations

import copy
import io
import json
import os
import shutil
import warnings
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sklearn.linear_model import Ridge

from modelreuse.errors import ModelReuseError
from modelreuse.learnware import Learnware, Manifest
from modelreuse.models.table_schema import TableSchema
from modelreuse.models.tabular import list_tables, read_table
from modelreuse.specs.base import load_spec
from modelreuse.specs.records import RecordsSpec
from modelreuse.specs.rkme import RKMESpec

EXAMPLES = int(os.environ.get("MODELREUSE_FUZZ_EXAMPLES", "40"))

# ---------------------------------------------------------------------------- seeds


@dataclass
class Seeds:
    """A valid package (folder and zip bytes) and a scratch folder for mutated copies."""

    package: Path
    zip_bytes: bytes
    manifest: dict
    spec_bytes: dict[str, bytes]
    scratch: Path


def make_seeds(work: Path, table_path: Path) -> Seeds:
    """Fit a Ridge regressor on 300 rows of one real table and write it as a learnware with all
    three spec kinds, as folder and zip, under ``work``."""
    table = read_table(table_path).iloc[:2000].sample(300, random_state=0).reset_index(drop=True)
    table = table[np.isfinite(table["PM2.5"].to_numpy(dtype=float))]
    enc = TableSchema.infer([table], target="PM2.5")
    X, y = np.nan_to_num(enc.encode(table)), table["PM2.5"].to_numpy(dtype=float)
    records = RecordsSpec(records=[{"dataset": "beijing", "task": "pm25", "metric": "r2", "score": 0.5,
                                     "higher_is_better": True}],
                          family="linear", params=float(X.shape[1] + 1))
    lw = Learnware.build(work / "package", Ridge().fit(X, y), RKMESpec.fit(X, m=10), name="seed",
                         task_type="regression", target="PM2.5", feature_names=list(enc.feature_names),
                         description="fuzz seed", tags=["seed"], records=records)
    zip_bytes = lw.to_zip(work / "package.zip").read_bytes()
    specs = {s.kind: (lw.root / s.file).read_bytes() for s in lw.manifest.specs}
    (work / "scratch").mkdir()
    return Seeds(lw.root, zip_bytes, json.loads((lw.root / "manifest.json").read_text()), specs, work / "scratch")


# ---------------------------------------------------------------------------- strategies
SPECIAL_STRINGS = ["", ".", "..", "../x", "/abs", "C:/x", "a\\b", "\x00", "\x1b[31mred", "\u202e", "\u200b",
                   "\ud800", "x" * 300, "y" * 20_001, "specs/rkme.npz", "model.skops", "NaN", "[b]x[/b]"]
scalars = (st.none() | st.booleans() | st.integers() | st.integers(-(2**70), 2**70) | st.floats()
           | st.text(max_size=20) | st.sampled_from(SPECIAL_STRINGS))
json_like = st.recursive(scalars, lambda inner: st.lists(inner, max_size=4)
                         | st.dictionaries(st.text(max_size=8) | st.sampled_from(SPECIAL_STRINGS), inner, max_size=4),
                         max_leaves=12)


def _slots(tree: Any) -> list[tuple[Any, Any]]:
    """Every (container, key) pair of a JSON-like tree."""
    slots, stack = [], [tree]
    while stack:
        node = stack.pop()
        keys = list(node) if isinstance(node, dict) else range(len(node)) if isinstance(node, list) else []
        for key in keys:
            slots.append((node, key))
            stack.append(node[key])
    return slots


def mutate_tree(data: st.DataObject, tree: Any) -> Any:
    """1-4 random edits (replace, delete, insert, duplicate) of a deep copy of ``tree``."""
    tree = copy.deepcopy(tree)
    for _ in range(data.draw(st.integers(1, 4))):
        slots = _slots(tree)
        op = data.draw(st.sampled_from(["replace", "delete", "insert", "duplicate", "root"]))
        if op == "root" or not slots:
            return data.draw(json_like) if op == "root" else tree
        node, key = data.draw(st.sampled_from(slots))
        if op == "replace":
            node[key] = data.draw(json_like)
        elif op == "delete":
            del node[key]
        elif op == "duplicate" and isinstance(node, list):
            node.append(copy.deepcopy(node[key]))
        elif isinstance(node, dict):
            node[data.draw(st.text(max_size=8) | st.sampled_from(SPECIAL_STRINGS))] = data.draw(json_like)
        else:
            node.insert(key, data.draw(json_like))
    return tree


def mutate_bytes(data: st.DataObject, raw: bytes) -> bytes:
    """1-8 byte flips, insertions, deletions or a truncation of ``raw``."""
    buf = bytearray(raw)
    for _ in range(data.draw(st.integers(1, 8))):
        if not buf:
            break
        op = data.draw(st.sampled_from(["flip", "insert", "delete", "truncate"]))
        # half the edits land in the last 512 bytes, where zip directories and npz headers live
        at = data.draw(st.integers(0, len(buf) - 1) | st.integers(max(0, len(buf) - 512), len(buf) - 1))
        if op == "flip":
            buf[at] ^= data.draw(st.integers(1, 255))
        elif op == "insert":
            buf[at:at] = data.draw(st.binary(min_size=1, max_size=16))
        elif op == "delete":
            del buf[at:at + data.draw(st.integers(1, 16))]
        else:
            del buf[at:]
    return bytes(buf)


def _json_text(value: Any) -> bytes:
    return json.dumps(value, allow_nan=True).encode("utf-8", "surrogatepass")


def _npz_variant(data: st.DataObject, raw: bytes) -> bytes:
    """The npz with members swapped, dropped, added, retyped, reshaped or filled with extremes."""
    with np.load(io.BytesIO(raw)) as npz:
        arrays = {k: npz[k] for k in npz.files}
    for _ in range(data.draw(st.integers(1, 3))):
        names = sorted(arrays)
        op = data.draw(st.sampled_from(["swap", "drop", "add", "retype", "reshape", "extreme"]))
        a = data.draw(st.sampled_from(names)) if names else "Z"
        if op == "swap" and len(names) > 1:
            b = data.draw(st.sampled_from(names))
            arrays[a], arrays[b] = arrays[b], arrays[a]
        elif op == "drop" and names:
            del arrays[a]
        elif op == "add":
            arrays[data.draw(st.sampled_from(["extra", "Z", "n", "gamma", "beta"]))] = np.zeros(3)
        elif op == "retype" and names:
            arrays[a] = arrays[a].astype(data.draw(st.sampled_from(["int8", "complex128", "float16", "bool",
                                                                    "U3", "object", "float32"])))
        elif op == "reshape" and names:
            arrays[a] = arrays[a].reshape(-1) if arrays[a].ndim else np.full(data.draw(st.integers(0, 3)), arrays[a])
        elif names:
            arrays[a] = np.full(arrays[a].shape, data.draw(st.sampled_from([np.nan, np.inf, -1.0, 0.0, 1e300,
                                                                            -(2.0**63), 1e-320])))
    out = io.BytesIO()
    np.savez(out, **arrays)
    return out.getvalue()


def _rebuilt_zip(data: st.DataObject, raw: bytes) -> bytes:
    """The zip rebuilt with mutated entry names, modes and compression methods."""
    with zipfile.ZipFile(io.BytesIO(raw)) as zf:
        entries = [(i.filename, zf.read(i)) for i in zf.infolist()]
    names = [n for n, _ in entries]
    name_edits = st.sampled_from(["./{}", "{}/", "{}/x", "../{}", "/{}", "{}\\", "{}\x1b", "{}:x", "x" * 300 + "{}",
                                  "{}", "{}", "specs/../{}"])
    out = io.BytesIO()
    with warnings.catch_warnings(), zipfile.ZipFile(out, "w") as zf:
        warnings.simplefilter("ignore")  # repeated names are one of the mutations
        for name, payload in entries + data.draw(st.lists(st.sampled_from(entries), max_size=2)):
            new = data.draw(name_edits).format(name if data.draw(st.booleans()) else data.draw(st.sampled_from(names)))
            info = zipfile.ZipInfo(new, date_time=(1980, 1, 1, 0, 0, 0))
            info.external_attr = data.draw(st.sampled_from([0o100644, 0o120777, 0o040755, 0o010644, 0])) << 16
            info.compress_type = data.draw(st.sampled_from([zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED,
                                                            zipfile.ZIP_BZIP2, zipfile.ZIP_LZMA]))
            zf.writestr(info, payload)
    return out.getvalue()


# ---------------------------------------------------------------------------- targets
def fuzz_manifest_dict(seeds: Seeds, data: st.DataObject) -> None:
    Manifest.parse(mutate_tree(data, seeds.manifest))


def fuzz_manifest_bytes(seeds: Seeds, data: st.DataObject) -> None:
    choice = data.draw(st.sampled_from(["random", "bytes", "tree"]))
    seed_text = _json_text(seeds.manifest)
    raw = (data.draw(st.binary(max_size=512)) if choice == "random"
           else mutate_bytes(data, seed_text) if choice == "bytes"
           else mutate_bytes(data, _json_text(mutate_tree(data, seeds.manifest))) if data.draw(st.booleans())
           else _json_text(mutate_tree(data, seeds.manifest)))
    (seeds.package / "manifest.json").write_bytes(raw)
    try:
        Learnware.open(seeds.package)
    finally:
        (seeds.package / "manifest.json").write_bytes(seed_text)


def _spec_target(kind: str) -> Callable[[Seeds, st.DataObject], None]:
    def target(seeds: Seeds, data: st.DataObject) -> None:
        raw = seeds.spec_bytes[kind]
        if data.draw(st.booleans()):
            raw = mutate_bytes(data, raw)
        elif kind == "rkme":
            raw = _npz_variant(data, raw)
        else:
            raw = _json_text(mutate_tree(data, json.loads(raw)))
        path = seeds.scratch / f"spec-{kind}"
        path.write_bytes(raw)
        load_spec(kind, path)

    target.__name__ = f"fuzz_spec_{kind}"
    return target


def fuzz_zip(seeds: Seeds, data: st.DataObject) -> None:
    """Open a mutated zip; if it is refused, nothing may be left where it was to be extracted."""
    raw = mutate_bytes(data, seeds.zip_bytes) if data.draw(st.booleans()) else _rebuilt_zip(data, seeds.zip_bytes)
    path, target = seeds.scratch / "mutated.zip", seeds.scratch / "extracted"
    path.write_bytes(raw)
    try:
        Learnware.open(path, extract_to=target)
    except ModelReuseError:
        assert not target.exists(), "a refused zip left files behind"
        raise
    finally:
        shutil.rmtree(target, ignore_errors=True)


TARGETS: dict[str, Callable[[Seeds, st.DataObject], None]] = {
    "manifest_dict": fuzz_manifest_dict,
    "manifest_bytes": fuzz_manifest_bytes,
    "spec_rkme": _spec_target("rkme"),
    "spec_semantic": _spec_target("semantic"),
    "spec_records": _spec_target("records"),
    "zip": fuzz_zip,
}


# ---------------------------------------------------------------------------- CI
@pytest.fixture(scope="module")
def seeds(data_root, tmp_path_factory) -> Seeds:
    from tests.conftest import BEIJING

    return make_seeds(tmp_path_factory.mktemp("fuzz"), list_tables(BEIJING)[0])


@pytest.mark.parametrize("name", sorted(TARGETS))
def test_reader_succeeds_or_raises_typed(name, seeds):
    @settings(max_examples=EXAMPLES, deadline=None, derandomize=True, database=None,
              suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
    @given(data=st.data())
    def run(data):
        try:
            TARGETS[name](seeds, data)
        except ModelReuseError:
            pass

    run()


def test_seeds_are_valid(seeds):
    """The unmutated seeds load, so the fuzzers start from the accepted side of every check."""
    with Learnware.open(seeds.scratch.parent / "package.zip") as lw:
        lw.load_specs()
        assert lw.records is not None
