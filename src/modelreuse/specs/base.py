"""The specification protocol and the registry of spec kinds.

A specification is a compact, serialisable sketch of what a model can do (or what a task
needs), built without sharing raw data. Each kind lives in its own module and registers
itself here with :func:`register_spec`, so adding a kind is one new file.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import ClassVar, Protocol, runtime_checkable

import numpy as np

from modelreuse.errors import SpecError


@runtime_checkable
class Specification(Protocol):
    """What every spec kind provides."""

    kind: ClassVar[str]
    file_suffix: ClassVar[str]

    def save(self, path: str | Path) -> None:
        """Write the spec to ``path`` (a file with :attr:`file_suffix`)."""

    def embedding(self) -> np.ndarray:
        """A fixed-length float vector of this spec, for vector indexes."""


SPEC_KINDS: dict[str, type] = {}


def register_spec(cls: type) -> type:
    """Class decorator: make ``cls`` loadable by its ``kind`` name."""
    SPEC_KINDS[cls.kind] = cls
    return cls


def load_spec(kind: str, path: str | Path) -> Specification:
    """Load a spec of the given kind from ``path``."""
    if kind not in SPEC_KINDS:
        raise SpecError(f"unknown spec kind {kind!r}; known kinds: {sorted(SPEC_KINDS)}")
    loader: Callable[[str | Path], Specification] = SPEC_KINDS[kind].load
    return loader(path)
