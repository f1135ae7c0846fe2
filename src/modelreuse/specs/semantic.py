"""Semantic specification: the learnware's card (name, description, tags, task, modality).

Search over it is a filter on card fields plus a text match (see
:mod:`modelreuse.selection.semantic`). Its ``embedding()`` is a hashed bag of words, so the
card can also be put in a vector index without any model download.
"""

from __future__ import annotations

import json
import re
import zlib
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import ClassVar

import numpy as np

from modelreuse.errors import SpecError
from modelreuse.specs.base import register_spec

_TOKEN = re.compile(r"[a-z0-9]+")


def tokenize(text: str) -> list[str]:
    """Lower-case alphanumeric tokens."""
    return _TOKEN.findall(text.lower())


@register_spec
@dataclass
class SemanticSpec:
    """The card of a learnware, as a spec."""

    name: str
    description: str = ""
    tags: list[str] = field(default_factory=list)
    task_type: str = ""
    modality: str = ""

    kind: ClassVar[str] = "semantic"
    file_suffix: ClassVar[str] = ".json"

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
    def load(cls, path: str | Path) -> "SemanticSpec":
        try:
            return cls(**json.loads(Path(path).read_text()))
        except (OSError, TypeError, json.JSONDecodeError) as exc:
            raise SpecError(f"cannot read semantic spec {path}: {exc}") from exc
