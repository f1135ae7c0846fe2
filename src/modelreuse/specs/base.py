"""The specification protocol and the registry of spec kinds.

A specification is a compact, serialisable sketch of what a model can do (or what a task
needs), built without sharing raw data. Each kind lives in its own module of this package and
registers itself with one decorator line, ``@SPEC_KINDS.register("<kind>", file_suffix=".npz")``,
so adding a kind is one new file (plus its example in the contract test,
``tests/specs/test_spec_kinds.py``).

Metadata of a kind: ``file_suffix`` (the package file is ``specs/<kind><file_suffix>``). Which
selectors can use a kind is declared on the other side, by each selector's ``spec_kinds``
(:mod:`modelreuse.selection.base`): a new selector for an existing kind is then one new file too.

Contract of every kind (checked by the contract test): ``save(path)`` and ``load(path)`` round
trip; ``embedding()`` returns a vector of the same length for every instance; ``load`` of a
malformed or hostile file raises :class:`~modelreuse.errors.SpecError` and never runs code from it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Protocol, runtime_checkable

import numpy as np

from modelreuse._registry import Registry
from modelreuse.errors import SpecError


@runtime_checkable
class Specification(Protocol):
    """What every spec kind provides (plus a ``load(path)`` classmethod)."""

    def save(self, path: str | Path) -> None:
        """Write the spec to ``path`` (a file with the kind's ``file_suffix``)."""

    def embedding(self) -> np.ndarray:
        """A fixed-length float vector of this spec, for vector indexes."""


SPEC_KINDS: Registry[type] = Registry("spec kind", package="modelreuse.specs")


def load_spec(kind: str, path: str | Path) -> Specification:
    """Load a spec of the registered ``kind`` from ``path`` (unknown kinds raise
    :class:`~modelreuse.errors.UnknownNameError` listing the registered ones)."""
    return SPEC_KINDS.get(kind).load(path)


def kind_of(spec: object) -> str:
    """The registered kind name of ``spec``'s class; :class:`SpecError` if it is not registered."""
    for entry in SPEC_KINDS.entries():
        if entry.obj is type(spec):
            return entry.name
    raise SpecError(f"{type(spec).__name__} is not a registered spec kind; registered: {', '.join(SPEC_KINDS.names())}")


def spec_file(kind: str) -> str:
    """The package path of a spec of ``kind``: ``specs/<kind><file_suffix>``."""
    return f"specs/{kind}{SPEC_KINDS.metadata(kind)['file_suffix']}"
