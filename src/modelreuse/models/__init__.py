"""Models: one small prediction protocol, adapters, and safe persistence."""

from modelreuse.models.adapters import ModelAdapter, as_model
from modelreuse.models.persistence import ARTIFACT_FORMATS, load_model, save_model

__all__ = ["ARTIFACT_FORMATS", "ModelAdapter", "as_model", "load_model", "save_model"]
