"""The dock as a service: a FastAPI application (REST API under ``/api/v1`` and server-rendered web
pages) on the same :class:`~modelreuse.dock.Dock`, selectors and reusers the library uses.

Start it with ``modelreuse serve --dock ROOT``; build it in Python with :func:`create_app`. FastAPI and
uvicorn are imported only here, so the library and the CLI's other commands never load them.
"""

__all__ = ["ServerSettings", "create_app"]


def __getattr__(name: str):
    if name == "create_app":
        from modelreuse.server.app import create_app

        return create_app
    if name == "ServerSettings":
        from modelreuse.server.settings import ServerSettings

        return ServerSettings
    raise AttributeError(name)
