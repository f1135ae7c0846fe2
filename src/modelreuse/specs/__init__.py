"""Specifications: one module per kind, registered in :data:`modelreuse.specs.base.SPEC_KINDS`.

Names are imported on first use, so ``import modelreuse.specs`` loads neither scipy nor a kind.
"""

from __future__ import annotations

import importlib

_WHERE = {
    "SPEC_KINDS": "base", "Specification": "base", "load_spec": "base", "kind_of": "base", "spec_file": "base",
    "RKMESpec": "rkme", "RecordsSpec": "records", "SemanticSpec": "semantic",
    "PAVESpec": "pave", "PAVEBase": "pave_base",
}

__all__ = sorted(_WHERE)


def __getattr__(name: str):
    if name not in _WHERE:
        raise AttributeError(f"module 'modelreuse.specs' has no attribute {name!r}")
    return getattr(importlib.import_module(f"modelreuse.specs.{_WHERE[name]}"), name)
