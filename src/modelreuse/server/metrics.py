"""Request metrics of one server process, in memory: per route (``METHOD /path/template``), the
number of requests, of error answers (status >= 400), and latency percentiles over the last
:data:`SAMPLES` requests. Read at ``GET /api/v1/metrics``."""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
from starlette.types import ASGIApp, Message, Receive, Scope, Send

SAMPLES = 2_048


@dataclass
class RouteStats:
    count: int = 0
    errors: int = 0
    latencies_ms: deque = field(default_factory=lambda: deque(maxlen=SAMPLES))

    def summary(self) -> dict:
        p50, p99 = np.percentile(np.fromiter(self.latencies_ms, float), [50, 99]) if self.latencies_ms else (0.0, 0.0)
        return {"count": self.count, "errors": self.errors, "p50_ms": round(float(p50), 3), "p99_ms": round(float(p99), 3)}


class MetricsMiddleware:
    """ASGI middleware timing every HTTP request until its answer's last byte is sent; ``paths``
    gives each endpoint's full path template (the route in the request's scope may lack its
    router's prefix)."""

    def __init__(self, app: ASGIApp, routes: dict[str, RouteStats], paths: dict[Callable, str]):
        self.app = app
        self.routes = routes
        self.paths = paths

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started, status = time.perf_counter(), 500

        async def timed_send(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, timed_send)
        finally:
            route = scope.get("route")
            key = f"{scope['method']} {self.paths.get(route.endpoint, route.path)}" if route is not None else "unmatched"
            stats = self.routes.setdefault(key, RouteStats())
            stats.count += 1
            stats.errors += status >= 400
            stats.latencies_ms.append((time.perf_counter() - started) * 1000)
