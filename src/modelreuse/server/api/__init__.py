"""REST endpoint groups, one module each, mounted under ``/api/v1`` by
:func:`modelreuse.server.app.create_app` (every module here that defines ``router``)."""
