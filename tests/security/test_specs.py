"""Hostile specification files: every field of an RKME ``.npz`` and of the semantic and records
JSON, out of range or malformed, must raise :class:`SpecError` (through ``load_spec`` and through
``Dock.submit`` with the dock unchanged) before any large allocation; and one hostile but valid
spec in the dock must not change any honest learnware's search result (the pooled-frame attack).
"""

from __future__ import annotations

import io
import json
import tracemalloc
import zipfile
from pathlib import Path

import numpy as np
import pytest

from modelreuse.dock import Dock
from modelreuse.errors import SpecError
from modelreuse.models.tabular import impute_means
from modelreuse.selection.calibration import null_model
from modelreuse.selection.statistical import mixture_search, statistical_search
from modelreuse.specs import load_spec
from modelreuse.specs import rkme as rk
from modelreuse.specs.rkme import RKMESpec
from modelreuse.specs.rkme_index import RKMEIndex
from tests.conftest import SITES, user_half
from tests.security.conftest import dock_state

# ---------------------------------------------------------------------- building hostile npz files


def spec_arrays(spec: RKMESpec) -> dict[str, np.ndarray]:
    return {"Z": spec.Z, "beta": spec.beta, "center": spec.center, "scale": spec.scale,
            "n": np.int64(spec.n), "gamma": np.float64(spec.gamma), "fit_mmd2": np.float64(spec.fit_mmd2)}


def npy_bytes(array: np.ndarray) -> bytes:
    buf = io.BytesIO()
    np.save(buf, array, allow_pickle=True)
    return buf.getvalue()


def lying_npy(shape: tuple[int, ...], data: bytes = b"\0" * 64) -> bytes:
    """A ``.npy`` whose header declares ``shape`` (float64) but which holds only ``data``."""
    buf = io.BytesIO()
    np.lib.format.write_array_header_1_0(buf, {"descr": "<f8", "fortran_order": False, "shape": shape})
    return buf.getvalue() + data


def write_npz(path: Path, members: dict[str, bytes], compression: int = zipfile.ZIP_STORED) -> Path:
    with zipfile.ZipFile(path, "w", compression) as zf:
        for name, data in members.items():
            zf.writestr(name.split("#")[0] + ".npy", data)
    return path


def with_fields(spec: RKMESpec, path: Path, **changes) -> Path:
    arrays = {**spec_arrays(spec), **changes}
    return write_npz(path, {k: npy_bytes(np.asarray(v)) for k, v in arrays.items() if v is not None})


FIELD_CASES = {
    "n negative": {"n": np.int64(-600)},
    "n zero": {"n": np.int64(0)},
    "n huge": {"n": np.int64(10**15)},
    "n fractional": {"n": np.float64(2.5)},
    "n NaN": {"n": np.float64(np.nan)},
    "n below m": {"n": np.int64(3)},
    "gamma inf": {"gamma": np.float64(np.inf)},
    "gamma zero": {"gamma": np.float64(0.0)},
    "gamma negative": {"gamma": np.float64(-1.0)},
    "gamma NaN": {"gamma": np.float64(np.nan)},
    "fit_mmd2 NaN": {"fit_mmd2": np.float64(np.nan)},
    "fit_mmd2 negative": {"fit_mmd2": np.float64(-1.0)},
    "fit_mmd2 huge": {"fit_mmd2": np.float64(50.0)},
    "scale 1e300": {"scale": "1e300"},
    "scale zero": {"scale": "0"},
    "scale negative": {"scale": "-1"},
    "center inf": {"center": "inf"},
    "center far": {"center": "1e25"},
    "beta negative": {"beta": "-1"},
    "beta sum huge": {"beta": "1e6"},
    "beta all zero": {"beta": "all zero"},
    "Z far from center": {"Z": "1e9"},
    "Z object": {"Z": "object"},
    "Z complex": {"Z": "complex"},
    "Z int": {"Z": "int"},
    "Z 3-D": {"Z": "3d"},
    "Z one feature short": {"Z": "narrow"},
    "beta wrong length": {"beta": "short"},
    "n 2-D": {"n": np.ones((1, 1), np.int64)},
}


def hostile_value(spec: RKMESpec, field: str, how) -> np.ndarray:
    """The hostile array for ``field``: given directly, or described by a short word."""
    if not isinstance(how, str):
        return how
    base = {"Z": spec.Z, "beta": spec.beta, "center": spec.center, "scale": spec.scale}[field]
    if how == "object":
        return np.array([[{"a": 1}]] * len(base), dtype=object)
    if how == "complex":
        return base.astype(np.complex128)
    if how == "int":
        return base.astype(np.int64)
    if how == "3d":
        return base[:, :, None]
    if how == "narrow":
        return base[:, 1:]
    if how == "short":
        return base[1:]
    if how == "all zero":
        return np.zeros_like(base)
    out = base.copy()
    out[0] = float(how) if field != "Z" else spec.center[0] + float(how) * spec.scale[0]
    return out


@pytest.mark.parametrize("case", sorted(FIELD_CASES))
def test_hostile_rkme_field_raises_spec_error(fitted, tmp_path, case):
    changes = {f: hostile_value(fitted.rkme, f, how) for f, how in FIELD_CASES[case].items()}
    path = with_fields(fitted.rkme, tmp_path / "rkme.npz", **changes)
    with pytest.raises(SpecError) as raised:
        load_spec("rkme", path)
    message = str(raised.value)
    assert any(field in message for field in FIELD_CASES[case]) or "shape" in message, message


def test_honest_spec_round_trips(fitted, tmp_path):
    path = with_fields(fitted.rkme, tmp_path / "rkme.npz")
    back = load_spec("rkme", path)
    np.testing.assert_array_equal(back.Z, fitted.rkme.Z)
    assert back.n == fitted.rkme.n and back.fit_mmd2 == fitted.rkme.fit_mmd2


def _huge_header(spec, tmp_path, canary=None):
    return write_npz(tmp_path / "rkme.npz", {**{k: npy_bytes(np.asarray(v)) for k, v in spec_arrays(spec).items()},
                                             "Z": lying_npy((40_000_000, spec.Z.shape[1]))})


def _header_1e11_rows(spec, tmp_path, canary=None):
    return write_npz(tmp_path / "rkme.npz", {**{k: npy_bytes(np.asarray(v)) for k, v in spec_arrays(spec).items()},
                                             "Z": lying_npy((10**11, spec.Z.shape[1]))})


def _deflate_bomb(spec, tmp_path, canary=None):
    """A real deflate bomb: Z holds 64 MB of zeros (well over the limit), ~64 KB compressed."""
    path = tmp_path / "rkme.npz"
    rows = 100_000 * (2**23 // (100_000 * spec.Z.shape[1]) + 1)
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as zf:
        for k, v in spec_arrays(spec).items():
            if k != "Z":
                zf.writestr(k + ".npy", npy_bytes(np.asarray(v)))
        with zf.open("Z.npy", "w", force_zip64=True) as f:
            f.write(lying_npy((rows, spec.Z.shape[1]), b""))
            chunk = bytes(8 * spec.Z.shape[1] * 100_000)
            for _ in range(rows // 100_000):
                f.write(chunk)
    return path


def _extra_member(spec, tmp_path, canary=None):
    return with_fields(spec, tmp_path / "rkme.npz", extra=np.zeros(3))


def _missing_member(spec, tmp_path, canary=None):
    return with_fields(spec, tmp_path / "rkme.npz", gamma=None)


def _duplicate_member(spec, tmp_path, canary=None):
    members = {k: npy_bytes(np.asarray(v)) for k, v in spec_arrays(spec).items()}
    with pytest.warns(UserWarning):
        return write_npz(tmp_path / "rkme.npz", {**members, "Z#2": npy_bytes(spec.Z * 0)})


class _WritesCanary:
    """Unpickling this calls ``open(canary, "w")``: the file appears if anything unpickles it."""

    def __init__(self, canary: Path):
        self.canary = canary

    def __reduce__(self):
        return open, (str(self.canary), "w")


def _pickled_object(spec, tmp_path, canary=None):
    payload = np.empty(len(spec.beta), dtype=object)
    payload[:] = [_WritesCanary(canary)] * len(spec.beta)
    return with_fields(spec, tmp_path / "rkme.npz", beta=payload)


def _not_a_zip(spec, tmp_path, canary=None):
    path = tmp_path / "rkme.npz"
    path.write_bytes(b"\x80\x04not a zip at all" * 10)
    return path


def _truncated(spec, tmp_path, canary=None):
    path = with_fields(spec, tmp_path / "rkme.npz")
    path.write_bytes(path.read_bytes()[:-200])
    return path


def _bad_crc(spec, tmp_path, canary=None):
    path = with_fields(spec, tmp_path / "rkme.npz")
    raw = bytearray(path.read_bytes())
    with zipfile.ZipFile(path) as zf:
        info = zf.getinfo("Z.npy")
    data_start = info.header_offset + 30 + len(info.filename) + len(info.extra)
    raw[data_start + info.file_size - 1] ^= 0xFF  # last data byte of Z (stored, uncompressed)
    path.write_bytes(bytes(raw))
    return path


def _oversized_file(spec, tmp_path, canary=None):
    path = with_fields(spec, tmp_path / "rkme.npz")
    with open(path, "ab") as f:
        f.write(b"\0" * (rk.MAX_SPEC_FILE_BYTES + 1))
    return path


FILE_CASES = [_huge_header, _header_1e11_rows, _deflate_bomb, _extra_member, _missing_member, _duplicate_member,
              _pickled_object, _not_a_zip, _truncated, _bad_crc, _oversized_file]


@pytest.mark.parametrize("make", FILE_CASES, ids=lambda f: f.__name__.strip("_"))
def test_hostile_npz_file_raises_spec_error_without_large_allocation(fitted, tmp_path, canary, make):
    path = make(fitted.rkme, tmp_path, canary)
    tracemalloc.start()
    try:
        with pytest.raises(SpecError):
            load_spec("rkme", path)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 20 * 1024 * 1024, f"loading allocated {peak} bytes before refusing"


def test_spec_at_the_size_limit_loads(tmp_path):
    rng = np.random.default_rng(0)
    m, d = rk.MAX_REDUCED_POINTS, rk.MAX_SPEC_VALUES // rk.MAX_REDUCED_POINTS
    spec = RKMESpec(Z=rng.normal(size=(m, d)), beta=np.full(m, 1 / m), center=np.zeros(d), scale=np.ones(d),
                    n=rk.MAX_ROWS, gamma=0.5 / d, fit_mmd2=0.01)
    spec.save(tmp_path / "big.npz")
    assert load_spec("rkme", tmp_path / "big.npz").Z.shape == (rk.MAX_REDUCED_POINTS, d)
    one_more = with_fields(spec, tmp_path / "over.npz", Z=np.vstack([spec.Z, spec.Z[:1]]),
                           beta=np.append(spec.beta, 0.0))
    with pytest.raises(SpecError, match=f"more than {rk.MAX_SPEC_VALUES} elements"):
        load_spec("rkme", one_more)


# ---------------------------------------------------------------------- semantic and records JSON

SEMANTIC = {"name": "ok", "description": "a card", "tags": ["air"], "task_type": "regression", "modality": "tabular"}
RECORDS = {"records": [{"dataset": "X", "task": "t", "metric": "acc", "score": 0.9, "higher_is_better": True,
                        "source": "s"}], "family": "f", "params": 10.0, "release_date": "2024-01-01"}


def _deep(depth: int) -> str:
    return "[" * depth + "]" * depth


JSON_CASES = {
    "deep nesting": lambda base: json.dumps({**base, "tags": []})[:-1] + ', "x": ' + _deep(100_000) + "}",
    "non-UTF-8": lambda base: json.dumps(base).encode().replace(b"a", b"\xff\xfe", 1),
    "NaN literal": lambda base: json.dumps(base)[:-1] + ', "x": NaN}',
    "huge file": lambda base: json.dumps({**base, "pad": "x" * 5_000_000}),
    "repeated keys": lambda base: json.dumps(base)[:-1] + ", " + json.dumps(base)[1:],
    "not an object": lambda base: json.dumps([base]),
    "extra field": lambda base: json.dumps({**base, "evil": 1}),
}
SEMANTIC_CASES = {
    "name not a string": {"name": ["x"]},
    "empty name": {"name": "  "},
    "long name": {"name": "n" * 201},
    "long description": {"description": "d" * 20_001},
    "too many tags": {"tags": ["t"] * 65},
    "long tag": {"tags": ["t" * 65]},
    "tag not a string": {"tags": [1]},
    "escape in name": {"name": "ok\x1b[31mred"},
    "bidi override": {"name": "ok\u202egnp.exe"},
    "control in description": {"description": "line\x07bell"},
    "missing field": {"modality": None},
}
RECORDS_CASES = {
    "too many rows": {"records": [{"dataset": f"D{i}", "metric": "acc", "score": 1.0} for i in range(10_001)]},
    "dataset a dict": {"records": [{"dataset": {"a": 1}, "metric": "acc", "score": 1.0}]},
    "long metric": {"records": [{"dataset": "X", "metric": "m" * 201, "score": 1.0, "higher_is_better": True}]},
    "control char": {"records": [{"dataset": "X\x1b]8;;http://evil\x07", "metric": "acc", "score": 1.0}]},
    "params bool": {"params": True},
    "family a list": {"family": ["x"]},
    "score a string": {"records": [{"dataset": "X", "metric": "acc", "score": "1"}]},
    "records not a list": {"records": {"dataset": "X"}},
}


def _write_json(path: Path, content: str | bytes) -> Path:
    path.write_bytes(content if isinstance(content, bytes) else content.encode())
    return path


@pytest.mark.parametrize("kind, base", [("semantic", SEMANTIC), ("records", RECORDS)])
@pytest.mark.parametrize("case", sorted(JSON_CASES))
def test_hostile_json_file_raises_spec_error(tmp_path, kind, base, case):
    path = _write_json(tmp_path / f"{kind}.json", JSON_CASES[case](base))
    with pytest.raises(SpecError):
        load_spec(kind, path)


@pytest.mark.parametrize("kind, base", [("semantic", SEMANTIC), ("records", RECORDS)])
def test_honest_json_specs_load(tmp_path, kind, base):
    assert load_spec(kind, _write_json(tmp_path / f"{kind}.json", json.dumps(base)))


FIELD_JSON_CASES = [("semantic", SEMANTIC, c, v) for c, v in SEMANTIC_CASES.items()] + \
                   [("records", RECORDS, c, v) for c, v in RECORDS_CASES.items()]


@pytest.mark.parametrize("kind, base, case, change", FIELD_JSON_CASES,
                         ids=[f"{k}-{c}" for k, _, c, _ in FIELD_JSON_CASES])
def test_hostile_json_field_raises_spec_error(tmp_path, kind, base, case, change):
    card = {k: v for k, v in {**base, **change}.items() if v is not None}
    with pytest.raises(SpecError):
        load_spec(kind, _write_json(tmp_path / f"{kind}.json", json.dumps(card)))


# ---------------------------------------------------------------------- through Dock.submit

SUBMIT_CASES = {
    "rkme n negative": ("rkme.npz", lambda spec, tmp: with_fields(spec, tmp / "x.npz", n=np.int64(-600)).read_bytes()),
    "rkme header bomb": ("rkme.npz", lambda spec, tmp: _huge_header(spec, tmp).read_bytes()),
    "rkme scale 1e300": ("rkme.npz", lambda spec, tmp: with_fields(
        spec, tmp / "x.npz", scale=hostile_value(spec, "scale", "1e300")).read_bytes()),
    "semantic deep": ("semantic.json", lambda spec, tmp: JSON_CASES["deep nesting"](SEMANTIC).encode()),
    "semantic escape": ("semantic.json", lambda spec, tmp: json.dumps({**SEMANTIC, "name": "\x1b[5mx"}).encode()),
}


@pytest.mark.parametrize("case", sorted(SUBMIT_CASES))
def test_submit_with_hostile_spec_is_refused_and_dock_unchanged(fitted, valid_package, tmp_path, canary, case):
    dock = Dock(tmp_path / "dock")
    before = dock_state(dock)
    file, make = SUBMIT_CASES[case]
    (valid_package / "specs" / file).write_bytes(make(fitted.rkme, tmp_path))
    with pytest.raises(SpecError):
        dock.submit(valid_package)
    assert dock_state(dock) == before


# ---------------------------------------------------------------------- the frame: one spec cannot move others

@pytest.fixture(scope="module")
def honest(beijing):
    """Specs of the four real stations (first halves) and a user query (second half of one)."""
    specs = [RKMESpec.fit(impute_means(beijing[s]["X"][: len(beijing[s]["X"]) // 2]), m=40) for s in SITES]
    for s in specs:
        s.validate()
    X, _ = user_half(beijing, "Changping")
    return specs, X, RKMESpec.fit(X, m=40)


def extreme_spec(like: RKMESpec, m: int | None = None) -> RKMESpec:
    """Valid under every limit but extreme: the most rows, the largest scale and gamma, a far
    centre, the largest weight sum, the most points if ``m`` is given."""
    rng = np.random.default_rng(3)
    m = m or len(like.Z)
    d = like.n_features
    scale = np.full(d, rk.MAX_ABS_VALUE)
    center = np.full(d, -rk.MAX_ABS_VALUE)
    Z = center + scale * rng.uniform(-rk.MAX_STANDARDISED, rk.MAX_STANDARDISED, size=(m, d))
    spec = RKMESpec(Z=Z, beta=np.full(m, rk.MAX_BETA_SUM / m * (1 - 1e-12)), center=center, scale=scale, n=rk.MAX_ROWS,
                    gamma=rk.MAX_GAMMA, fit_mmd2=0.0)
    spec.validate()
    return spec


def _results(specs, query, X):
    index = RKMEIndex.build([str(i) for i in range(len(specs))], specs)
    null = null_model(X, query)
    ranking = statistical_search(index, query, {}, k=len(specs), null=null)
    return index.mmd2(query, np.arange(len(specs))), {e.learnware_id: e for e in ranking}


@pytest.mark.parametrize("hostile", ["extreme", "near the query with huge n"])
def test_hostile_spec_does_not_change_honest_results(honest, hostile):
    specs, X, query = honest
    bad = extreme_spec(query) if hostile == "extreme" else RKMESpec(
        Z=query.Z.copy(), beta=query.beta.copy(), center=query.center, scale=query.scale * 1e3, n=rk.MAX_ROWS,
        gamma=rk.MIN_GAMMA, fit_mmd2=0.0)
    bad.validate()
    mmd_before, before = _results(specs, query, X)
    mmd_after, after = _results([bad, *specs], query, X)
    assert np.isfinite(mmd_after).all()
    np.testing.assert_allclose(mmd_after[1:], mmd_before, rtol=0, atol=1e-9)
    for i in range(len(specs)):
        b, a = before[str(i)], after[str(i + 1)]
        assert a.score == pytest.approx(b.score, abs=1e-9)
        assert a.details["p_value"] == pytest.approx(b.details["p_value"], abs=1e-9)
    honest_order_after = [int(k) - 1 for k in after if k != "0"]  # rankings iterate best first
    assert honest_order_after == [int(k) for k in before]
    assert int(next(iter(before))) == SITES.index("Changping")


def test_spec_at_the_size_limit_does_not_break_search_of_its_width(honest):
    specs, X, query = honest
    big = extreme_spec(query, m=rk.MAX_REDUCED_POINTS)
    index = RKMEIndex.build([str(i) for i in range(len(specs) + 1)], [*specs, big])
    ranking = statistical_search(index, query, {}, k=5, null=null_model(X, query))
    assert ranking[0].learnware_id == str(SITES.index("Changping"))
    mixture = mixture_search(index, query, {}, max_learnwares=3)
    assert np.isfinite(mixture.details["residual_mmd2"])
