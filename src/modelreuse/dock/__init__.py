"""The dock (model market): metadata store, artifact store, vector index, validation; and
:class:`RemoteDock`, a dock served by ``modelreuse serve``. :func:`open_dock` opens either from a
location (a folder or an ``http(s)://`` URL).

``Dock`` and ``RemoteDock`` are imported lazily, so that the validation sandbox
(``modelreuse.dock.validation``) and other light modules of this package start without SQLAlchemy,
pandas and httpx.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

__all__ = ["Dock", "RemoteDock", "open_dock"]


def open_dock(location: Any, token: str | None = None, *, create: bool = True) -> Any:
    """The dock at ``location``: a :class:`RemoteDock` for an ``http://`` or ``https://`` URL
    (``token``: its API token, default ``$MODELREUSE_TOKEN``), a local :class:`Dock` for a folder
    (``create``: make an empty one if there is none, as :class:`Dock` does). A dock object is
    returned as it is."""
    from modelreuse.dock.dock import Dock
    from modelreuse.dock.remote import RemoteDock, is_url

    if isinstance(location, (Dock, RemoteDock)):
        return location
    if is_url(location):
        return RemoteDock(location, token=token)
    return Dock(Path(location), create=create)


def __getattr__(name: str):
    if name == "Dock":
        from modelreuse.dock.dock import Dock

        return Dock
    if name == "RemoteDock":
        from modelreuse.dock.remote import RemoteDock

        return RemoteDock
    raise AttributeError(name)
