"""The dock (model market): metadata store, artifact store, vector index, validation.

``Dock`` is imported lazily, so that the validation sandbox (``modelreuse.dock.validation``) and
other light modules of this package start without SQLAlchemy and pandas.
"""

__all__ = ["Dock"]


def __getattr__(name: str):
    if name == "Dock":
        from modelreuse.dock.dock import Dock

        return Dock
    raise AttributeError(name)
