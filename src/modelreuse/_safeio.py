"""Bounded readers for files that come from someone else (learnware packages, uploaded specs).

Nothing here trusts a size, a count or a nesting depth that the file declares: each is checked
against an explicit limit *before* memory is allocated for it, and every problem raises the
typed error the caller names (e.g. :class:`~modelreuse.errors.SpecError`), never a raw
``UnicodeDecodeError``, ``RecursionError``, ``BadZipFile`` or ``MemoryError``.

* :func:`read_json`: UTF-8 JSON with a byte limit, a nesting-depth limit, no ``NaN``/``Infinity``
  literals or numbers that overflow to infinity and no repeated keys (a reviewer's JSON viewer and Python would see different values).
* :func:`read_npz`: a NumPy ``.npz`` with a fixed set of members, each with an allowed dtype kind,
  number of dimensions and element count read from its ``.npy`` header, loaded without pickle.
"""

from __future__ import annotations

import json
import math
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from modelreuse.errors import ModelReuseError

MAX_JSON_BYTES = 1024 * 1024
MAX_JSON_DEPTH = 32


def read_json(path: str | Path, error: type[ModelReuseError], *, max_bytes: int = MAX_JSON_BYTES,
              max_depth: int = MAX_JSON_DEPTH) -> Any:
    """Parse the JSON file at ``path`` within the limits (module doc) or raise ``error``."""
    path = Path(path)
    try:
        size = path.stat().st_size
        if size > max_bytes:
            raise error(f"{path.name} is {size} bytes; the limit is {max_bytes}")
        text = path.read_bytes().decode("utf-8")
    except UnicodeDecodeError as exc:
        raise error(f"{path.name} is not UTF-8 text: {exc.reason} at byte {exc.start}") from None
    except OSError as exc:
        raise error(f"cannot read {path.name}: {exc.strerror or exc}") from None
    return parse_json(text, error, what=path.name, max_depth=max_depth)


def parse_json(text: str, error: type[ModelReuseError], *, what: str = "JSON",
               max_depth: int = MAX_JSON_DEPTH) -> Any:
    """Parse JSON text with the same rules as :func:`read_json`."""
    try:
        value = json.loads(text, object_pairs_hook=_unique_keys, parse_constant=_no_constants,
                           parse_float=_finite_float)
    except RecursionError:
        raise error(f"{what} is nested deeper than {max_depth} levels") from None
    except (json.JSONDecodeError, _JSONRuleError) as exc:
        raise error(f"{what} is not valid JSON: {exc}") from None
    except ValueError as exc:  # e.g. an integer literal over Python's 4300-digit conversion limit
        raise error(f"{what} is not usable JSON: {exc}") from None
    if _depth(value) > max_depth:
        raise error(f"{what} is nested deeper than {max_depth} levels")
    return value


class _JSONRuleError(ValueError):
    pass


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict:
    keys = [k for k, _ in pairs]
    if len(set(keys)) != len(keys):
        repeated = sorted({k for k in keys if keys.count(k) > 1})
        raise _JSONRuleError(f"repeated key(s) {repeated[:3]}")
    return dict(pairs)


def _finite_float(literal: str) -> float:
    value = float(literal)
    if not math.isfinite(value):
        raise _JSONRuleError(f"{literal[:20]} overflows to infinity")
    return value


def _no_constants(name: str) -> Any:
    raise _JSONRuleError(f"{name} is not allowed (JSON has no NaN or infinity)")


def _depth(value: Any) -> int:
    """Nesting depth of containers (a scalar is 0), iteratively."""
    deepest, stack = 0, [(value, 1)]
    while stack:
        item, level = stack.pop()
        children = item.values() if isinstance(item, dict) else item if isinstance(item, list) else None
        if children is None:
            continue
        deepest = max(deepest, level)
        stack.extend((child, level + 1) for child in children)
    return deepest


@dataclass(frozen=True)
class NpzMember:
    """What one array of an ``.npz`` may be.

    Attributes:
        kinds: allowed ``dtype.kind`` letters (``"f"`` real floating, ``"i"``/``"u"`` integers).
        ndim: required number of dimensions (0 for a scalar).
        max_elements: upper bound on the number of elements.
        required: whether the member must be present.
    """

    kinds: str
    ndim: int
    max_elements: int
    required: bool = True


def read_npz(path: str | Path, members: dict[str, NpzMember], error: type[ModelReuseError], *,
             max_bytes: int) -> dict[str, np.ndarray]:
    """Load the arrays of an ``.npz`` whose members, dtypes and shapes match ``members``.

    Each ``.npy`` header is read and checked before its data is allocated; object and
    structured dtypes, unknown or repeated members, and files over ``max_bytes`` raise ``error``.
    """
    path = Path(path)
    try:
        if path.stat().st_size > max_bytes:
            raise error(f"{path.name} is larger than {max_bytes} bytes")
        with zipfile.ZipFile(path) as zf:
            infos = _npz_entries(zf, members, error, path.name)
            return {name: _read_member(zf, info, members[name], error, path.name) for name, info in infos.items()}
    except ModelReuseError:
        raise
    except (OSError, zipfile.BadZipFile, zipfile.LargeZipFile, ValueError, EOFError, RuntimeError,
            NotImplementedError) as exc:
        raise error(f"cannot read {path.name}: {type(exc).__name__}: {exc}") from None


def _npz_entries(zf: zipfile.ZipFile, members: dict[str, NpzMember], error: type[ModelReuseError],
                 what: str) -> dict[str, zipfile.ZipInfo]:
    infos: dict[str, zipfile.ZipInfo] = {}
    for info in zf.infolist():
        name = info.filename[:-4] if info.filename.endswith(".npy") else info.filename
        if name not in members:
            raise error(f"{what} has an unexpected member {info.filename!r}; allowed: {sorted(members)}")
        if name in infos:
            raise error(f"{what} repeats the member {info.filename!r}")
        infos[name] = info
    missing = [n for n, m in members.items() if m.required and n not in infos]
    if missing:
        raise error(f"{what} lacks the member(s) {missing}")
    return infos


def _read_member(zf: zipfile.ZipFile, info: zipfile.ZipInfo, rule: NpzMember, error: type[ModelReuseError],
                 what: str) -> np.ndarray:
    label = f"{what}:{info.filename}"
    with zf.open(info) as f:
        version = np.lib.format.read_magic(f)
        readers = {(1, 0): np.lib.format.read_array_header_1_0, (2, 0): np.lib.format.read_array_header_2_0}
        if version not in readers:
            raise error(f"{label} has an unsupported .npy version {version}")
        shape, fortran, dtype = readers[version](f)  # the header only, no data yet
        if dtype.hasobject or dtype.fields is not None or dtype.kind not in rule.kinds:
            raise error(f"{label} has dtype {dtype}; expected kind(s) {rule.kinds!r}")
        if len(shape) != rule.ndim:
            raise error(f"{label} has shape {shape}; expected {rule.ndim} dimension(s)")
        n_elements = int(np.prod(shape, dtype=np.int64)) if shape else 1
        if any(s < 0 for s in shape) or n_elements > rule.max_elements:
            raise error(f"{label} has shape {shape}: more than {rule.max_elements} elements")
        data_bytes = n_elements * dtype.itemsize
        if info.file_size - f.tell() != data_bytes:
            raise error(f"{label} declares {data_bytes} data bytes but holds {info.file_size - f.tell()}")
        array = np.frombuffer(f.read(data_bytes), dtype=dtype).reshape(shape, order="F" if fortran else "C")
    return array.copy()
