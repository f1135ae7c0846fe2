"""The application factory: :func:`create_app` opens the dock and accounts once per process,
installs the JSON error handlers and mounts every router module found in
:mod:`modelreuse.server.api` (REST, under ``/api/v1``) and :mod:`modelreuse.server.web` (pages).

Adding an endpoint group is one new module in one of those packages that defines ``router`` (an
``APIRouter``) and, if it keeps state, ``start(state)`` / ``stop(state)`` functions that run when the
server starts and stops; no list to edit here.
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from types import ModuleType

from fastapi import FastAPI

from modelreuse.config import __version__
from modelreuse.dock.dock import Dock
from modelreuse.server import http_errors
from modelreuse.server.accounts import Accounts
from modelreuse.server.deps import ServerState
from modelreuse.server.metrics import MetricsMiddleware
from modelreuse.server.ratelimit import RateLimitMiddleware
from modelreuse.server.settings import ServerSettings, settings_from_env
from modelreuse.server.uploads import create_tables

API_PREFIX = "/api/v1"
ROUTER_PACKAGES = {"modelreuse.server.api": API_PREFIX, "modelreuse.server.web": ""}


def router_modules() -> Iterator[tuple[ModuleType, str]]:
    """Every module of the router packages that defines ``router``, with its URL prefix."""
    for package_name, prefix in ROUTER_PACKAGES.items():
        package = importlib.import_module(package_name)
        for info in sorted(pkgutil.iter_modules(package.__path__), key=lambda i: i.name):
            if not info.name.startswith("_"):
                module = importlib.import_module(f"{package_name}.{info.name}")
                if hasattr(module, "router"):
                    yield module, prefix


def open_state(settings: ServerSettings) -> ServerState:
    """The dock (created if missing) and the account, upload and ownership tables in its database."""
    dock = Dock(settings.dock_root, url=settings.db_url)
    create_tables(dock.engine)
    return ServerState(settings=settings, dock=dock, accounts=Accounts(dock.engine), extras={"metrics": {}})


def install_middleware(app: FastAPI, state: ServerState, modules: list[tuple[ModuleType, str]]) -> None:
    """Request metrics (outermost, so they time everything; each route named by its full path,
    prefix included) and, if set, the rate limit."""
    if state.settings.rate_limit_per_minute:
        app.add_middleware(RateLimitMiddleware, per_minute=state.settings.rate_limit_per_minute)
    paths = {route.endpoint: prefix + route.path for module, prefix in modules for route in module.router.routes
             if hasattr(route, "endpoint")}
    app.add_middleware(MetricsMiddleware, routes=state.extras["metrics"], paths=paths)


def create_app(settings: ServerSettings | None = None) -> FastAPI:
    """The dock server for ``settings`` (default: from ``$MODELREUSE_SERVER_SETTINGS``, which is
    how uvicorn's ``--factory`` workers get them)."""
    from threadpoolctl import threadpool_limits

    settings = settings or settings_from_env()
    # One request, one core: concurrent requests are the parallelism, and BLAS threads spread over
    # busy cores make small products 100x slower (a 100 x 1,280 kernel: 30 ms instead of 0.2 ms).
    threadpool_limits(limits=1, user_api="blas")
    modules = list(router_modules())

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        state = app.state.modelreuse
        started = []
        try:
            for module, _ in modules:
                if hasattr(module, "start"):
                    module.start(state)
                    started.append(module)
            yield
        finally:
            for module in reversed(started):
                if hasattr(module, "stop"):
                    module.stop(state)

    app = FastAPI(title="modelreuse dock", version=__version__, lifespan=lifespan,
                  openapi_url=f"{API_PREFIX}/openapi.json", docs_url=f"{API_PREFIX}/docs", redoc_url=None)
    app.state.modelreuse = open_state(settings)
    http_errors.install(app)
    for module, prefix in modules:
        app.include_router(module.router, prefix=prefix)
    install_middleware(app, app.state.modelreuse, modules)
    return app
