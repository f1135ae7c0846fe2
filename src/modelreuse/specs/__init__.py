"""Specifications: one module per kind, registered in :mod:`modelreuse.specs.base`."""

from modelreuse.specs.base import SPEC_KINDS, Specification, load_spec, register_spec
from modelreuse.specs.records import RecordsSpec
from modelreuse.specs.rkme import RKMESpec
from modelreuse.specs.semantic import SemanticSpec

__all__ = ["SPEC_KINDS", "RKMESpec", "RecordsSpec", "SemanticSpec", "Specification", "load_spec", "register_spec"]
