"""Server-rendered web pages (Jinja2 templates, plain forms), one module per page group, mounted at
the site root by :func:`modelreuse.server.app.create_app` (every module here that defines ``router``)."""
