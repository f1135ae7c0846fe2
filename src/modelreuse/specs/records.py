"""Records specification: what a model scored on public benchmarks (leaderboard rows), as a spec.

A developer who submits a learnware can attach the numbers it reached on named benchmarks,
``(dataset, task, metric, score, higher_is_better, source)`` per row, plus the structural metadata
that recommenders use: ``family``, ``params`` (number of parameters as a float) and
``release_date``. The rows follow the leaderboard records format of
:mod:`modelreuse.records.leaderboard`, so a dock's records can train a recommender
(:meth:`modelreuse.dock.Dock.leaderboard`) and a trained recommender can rank the dock's
learnwares for a dataset described in words (:meth:`modelreuse.dock.Dock.recommend`).

Validation is strict, because one spec describes one model: every row needs a dataset, a metric
and a finite score; the metric direction is taken from ``higher_is_better`` or inferred from the
metric name (:func:`~modelreuse.records.leaderboard.infer_higher_is_better`), and a row
whose direction is neither given nor inferable is an error; two rows for the same
``(source, dataset, task, metric)`` are an error. Bounds, because the rows come from a submitter:
at most ``MAX_RECORDS`` rows; text fields are strings (a number is accepted and written as text)
of at most ``MAX_TEXT`` characters without control characters; the file is UTF-8 JSON read with
:func:`modelreuse._safeio.read_json` (size and depth limits, no ``NaN``, no repeated keys) and
holds exactly the fields :meth:`RecordsSpec.save` writes.

``embedding()``: each row's key ``source|dataset|task|metric`` is hashed (CRC32) into one of
``dim`` buckets, which accumulates the *utility* (the score, negated where lower is better); the
vector is L2-normalised. Two models evaluated on the same benchmarks with similar results get a
high cosine; the scale is the metrics' own, so the embedding is for indexing, not for ranking.
"""

from __future__ import annotations

import json
import math
import zlib
from collections import Counter
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from modelreuse._archive import find_control_character
from modelreuse._safeio import read_json
from modelreuse.errors import SpecError
from modelreuse.specs.base import SPEC_KINDS

if TYPE_CHECKING:  # pandas loads only when a table is built
    import pandas as pd

ROW_FIELDS = ("dataset", "task", "metric", "score", "higher_is_better", "source")
DEFAULT_SOURCE = "submitted"
MAX_RECORDS = 10_000
MAX_TEXT = 200
MAX_RECORDS_BYTES = 4 * 1024 * 1024


@SPEC_KINDS.register("records", file_suffix=".json")
@dataclass
class RecordsSpec:
    """A model's leaderboard rows plus ``family``, ``params`` and ``release_date`` (module doc)."""

    records: list[dict]
    family: str = ""
    params: float | None = None
    release_date: str = ""


    def __post_init__(self) -> None:
        if not isinstance(self.records, list) or not self.records:
            raise SpecError("a records spec needs at least one record (a list of rows)")
        if len(self.records) > MAX_RECORDS:
            raise SpecError(f"a records spec holds at most {MAX_RECORDS} rows, got {len(self.records)}")
        self.records = [_validated_row(row, i) for i, row in enumerate(self.records)]
        keys = Counter((r["source"], r["dataset"], r["task"], r["metric"]) for r in self.records)
        repeated = sorted(k for k, count in keys.items() if count > 1)
        if repeated:
            raise SpecError(f"records repeat (source, dataset, task, metric) {repeated[0]}; give each once")
        self.family = _text(self.family, "family")
        self.release_date = _text(self.release_date, "release_date")
        if self.params is not None and not (isinstance(self.params, (int, float)) and not isinstance(self.params, bool)
                                            and math.isfinite(self.params) and self.params > 0):
            raise SpecError(f"params must be a positive number of parameters, got {self.params!r}")
        self.params = None if self.params is None else float(self.params)

    @classmethod
    def from_frame(cls, frame: pd.DataFrame, family: str = "", params: float | None = None,
                   release_date: str = "") -> RecordsSpec:
        """Build from a table with the row fields as columns (``task``, ``higher_is_better`` and
        ``source`` optional)."""
        columns = [c for c in ROW_FIELDS if c in frame.columns]
        rows = [{k: _plain(v) for k, v in row.items()} for row in frame[columns].to_dict(orient="records")]
        return cls(rows, family=family, params=params, release_date=release_date)

    def to_frame(self, model: str) -> pd.DataFrame:
        """The rows in the leaderboard records format, with ``model`` filled in."""
        import pandas as pd

        return pd.DataFrame([{"model": model, **row} for row in self.records],
                            columns=["model", *ROW_FIELDS])

    def embedding(self, dim: int = 256) -> np.ndarray:
        """L2-normalised hashed utility vector (module doc)."""
        vec = np.zeros(dim)
        for row in self.records:
            key = "|".join(str(row[k]) for k in ("source", "dataset", "task", "metric"))
            vec[zlib.crc32(key.encode()) % dim] += row["score"] if row["higher_is_better"] else -row["score"]
        norm = np.linalg.norm(vec)
        return vec / norm if norm > 0 else vec

    def save(self, path: str | Path) -> None:
        Path(path).write_text(json.dumps(asdict(self), indent=2))

    @classmethod
    def load(cls, path: str | Path) -> RecordsSpec:
        """Read rows written by :meth:`save`, with the checks of the module doc."""
        data = read_json(path, SpecError, max_bytes=MAX_RECORDS_BYTES)
        allowed = {f.name for f in fields(cls)}
        if not isinstance(data, dict) or set(data) != allowed:
            shown = sorted(data) if isinstance(data, dict) else type(data).__name__
            raise SpecError(f"records spec {Path(path).name} must be an object with exactly the fields "
                            f"{sorted(allowed)}; got {shown}")
        return cls(**data)


def _validated_row(row: dict, index: int) -> dict:
    from modelreuse.records.leaderboard import infer_higher_is_better

    if not isinstance(row, dict):
        raise SpecError(f"record {index} is not a mapping of {ROW_FIELDS}")
    unknown = set(row) - set(ROW_FIELDS)
    if unknown:
        raise SpecError(f"record {index} has unknown field(s) {sorted(unknown)}; allowed: {ROW_FIELDS}")
    out = {k: _text(row.get(k), f"record {index} {k}") for k in ("dataset", "task", "metric")}
    out["source"] = _text(row.get("source"), f"record {index} source") or DEFAULT_SOURCE
    if not out["dataset"] or not out["metric"]:
        raise SpecError(f"record {index} needs a dataset and a metric name, got {row}")
    score = row.get("score")
    if isinstance(score, bool) or not isinstance(score, (int, float)) or not math.isfinite(score):
        raise SpecError(f"record {index} ({out['dataset']}, {out['metric']}) has no finite score: {score!r}")
    out["score"] = float(score)
    direction = row.get("higher_is_better")
    if direction is None:
        direction = infer_higher_is_better(out["metric"])
    if not isinstance(direction, bool):
        raise SpecError(f"record {index}: cannot tell whether higher {out['metric']!r} is better; "
                        "set higher_is_better to true or false")
    out["higher_is_better"] = direction
    return out


def _text(value: object, what: str) -> str:
    """A bounded text field: ``None`` is empty, numbers are written as text, anything else is an error."""
    if value is None:
        return ""
    if isinstance(value, bool) or not isinstance(value, (str, int, float)):
        raise SpecError(f"{what} must be text, got {type(value).__name__}")
    text = str(value).strip()
    if len(text) > MAX_TEXT:
        raise SpecError(f"{what} has {len(text)} characters; the limit is {MAX_TEXT}")
    bad = find_control_character(text)
    if bad is not None:
        raise SpecError(f"{what} contains the control character U+{ord(bad):04X}; remove it")
    return text


def _plain(value):
    """numpy scalars and missing values as plain Python (None for NaN/NA)."""
    import pandas as pd

    if value is None or value is pd.NA or (isinstance(value, float) and math.isnan(value)):
        return None
    return value.item() if isinstance(value, np.generic) else value
