"""Semantic specification: the learnware's card (name, description, tags, task, modality).

Search over it is a filter on card fields plus a text match (see
:mod:`modelreuse.selection.semantic`). Its ``embedding()`` is a hashed bag of words, so the
card can also be put in a vector index without any model download.

A card comes from the learnware's submitter, so loading it is strict: UTF-8 JSON within the
bounds of :func:`modelreuse._safeio.read_json`, exactly the five fields, strings only, and the
limits below (``name`` non-empty, at most ``MAX_NAME`` characters; ``description`` at most
``MAX_DESCRIPTION``; at most ``MAX_TAGS`` tags and ``MAX_SHORT`` characters per tag, task type
and modality). No control or formatting characters (the rule of
:func:`modelreuse._archive.find_control_character`: terminal escapes, bidirectional overrides,
zero-width characters; ``\\n`` and ``\\t`` are allowed in the description), so a card printed in a
terminal shows what it says.
"""

from __future__ import annotations

import json
import re
import zlib
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path

import numpy as np

from modelreuse._archive import find_control_character
from modelreuse._safeio import read_json
from modelreuse.errors import SpecError
from modelreuse.specs.base import SPEC_KINDS

_TOKEN = re.compile(r"[a-z0-9]+")

MAX_NAME = 200
MAX_DESCRIPTION = 20_000
MAX_TAGS = 64
MAX_SHORT = 64
MAX_CARD_BYTES = 256 * 1024


def tokenize(text: str) -> list[str]:
    """Lower-case alphanumeric tokens."""
    return _TOKEN.findall(text.lower())


@SPEC_KINDS.register("semantic", file_suffix=".json")
@dataclass
class SemanticSpec:
    """The card of a learnware, as a spec."""

    name: str
    description: str = ""
    tags: list[str] = field(default_factory=list)
    task_type: str = ""
    modality: str = ""


    def __post_init__(self) -> None:
        _check_text(self.name, "name", MAX_NAME, required=True)
        _check_text(self.description, "description", MAX_DESCRIPTION, multiline=True)
        if not isinstance(self.tags, list) or len(self.tags) > MAX_TAGS:
            raise SpecError(f"tags must be a list of at most {MAX_TAGS} strings, got {_preview(self.tags)}")
        for i, tag in enumerate(self.tags):
            _check_text(tag, f"tags[{i}]", MAX_SHORT)
        _check_text(self.task_type, "task_type", MAX_SHORT)
        _check_text(self.modality, "modality", MAX_SHORT)

    def text(self) -> str:
        return " ".join([self.name, self.description, " ".join(self.tags), self.task_type, self.modality])

    def embedding(self, dim: int = 256) -> np.ndarray:
        """L2-normalised hashed bag of words (CRC32 buckets) of the card text."""
        vec = np.zeros(dim)
        for tok in tokenize(self.text()):
            vec[zlib.crc32(tok.encode()) % dim] += 1.0
        norm = np.linalg.norm(vec)
        return vec / norm if norm > 0 else vec

    def save(self, path: str | Path) -> None:
        Path(path).write_text(json.dumps(asdict(self), indent=2))

    @classmethod
    def load(cls, path: str | Path) -> SemanticSpec:
        """Read a card written by :meth:`save`, with the checks of the module doc."""
        data = read_json(path, SpecError, max_bytes=MAX_CARD_BYTES)
        allowed = {f.name for f in fields(cls)}
        if not isinstance(data, dict) or set(data) != allowed:
            raise SpecError(f"semantic spec {Path(path).name} must be an object with exactly the fields "
                            f"{sorted(allowed)}; got {_preview(data if not isinstance(data, dict) else sorted(data))}")
        return cls(**data)


def _check_text(value: object, what: str, max_chars: int, *, required: bool = False, multiline: bool = False) -> None:
    """Raise :class:`SpecError` unless ``value`` is a string within the card limits (module doc)."""
    if not isinstance(value, str):
        raise SpecError(f"semantic spec field {what} must be a string, got {type(value).__name__}")
    if required and not value.strip():
        raise SpecError(f"semantic spec field {what} must not be empty")
    if len(value) > max_chars:
        raise SpecError(f"semantic spec field {what} has {len(value)} characters; the limit is {max_chars}")
    bad = find_control_character(value, allowed="\n\t" if multiline else "")
    if bad is not None:
        raise SpecError(f"semantic spec field {what} contains the control character U+{ord(bad):04X}; remove it")


def _preview(value: object) -> str:
    """A short ``repr`` for error messages about values of any size."""
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."
