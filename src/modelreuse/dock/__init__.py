"""The dock (model market): metadata store, artifact store, vector index, validation."""

from modelreuse.dock.dock import Dock

__all__ = ["Dock"]
