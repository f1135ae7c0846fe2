"""A per-process rate limit (``modelreuse serve --rate-limit N``): at most N requests per token
(or, for requests without one, per client address) in a fixed one-minute window that starts at
the key's first request; beyond it HTTP 429 with ``Retry-After``. In memory, per server process,
so with ``--workers W`` a key may make up to W x N requests a minute. ``/api/v1/health`` is
never limited (load balancers and the test harness poll it)."""

from __future__ import annotations

import math
import time

from starlette.types import ASGIApp, Receive, Scope, Send

from modelreuse.server.http_errors import error_response

WINDOW_S = 60.0
EXEMPT = frozenset({"/api/v1/health"})
MAX_KEYS = 100_000


class RateLimiter:
    """Counts requests per key in fixed windows (ASGI code runs on the event loop's one thread,
    so no lock is needed)."""

    def __init__(self, per_window: int, window_s: float = WINDOW_S):
        self.per_window, self.window_s = per_window, window_s
        self._windows: dict[str, tuple[float, int]] = {}

    def retry_after(self, key: str, now: float) -> float | None:
        """Count one request of ``key``; the seconds to wait if it is over the limit, else None."""
        start, count = self._windows.get(key, (now, 0))
        if now - start >= self.window_s:
            start, count = now, 0
        if len(self._windows) >= MAX_KEYS and key not in self._windows:
            self._forget_expired(now)
        self._windows[key] = (start, count + 1)
        return None if count < self.per_window else start + self.window_s - now

    def _forget_expired(self, now: float) -> None:
        self._windows = {k: v for k, v in self._windows.items() if now - v[0] < self.window_s}


def request_key(scope: Scope) -> str:
    """The token the request carries (header or the web pages' cookie), else the client address."""
    for name, value in scope.get("headers", ()):
        if name == b"authorization":
            return "token:" + value.decode("latin-1").partition(" ")[2].strip()
        if name == b"cookie" and b"modelreuse_token=" in value:
            return "token:" + value.decode("latin-1").split("modelreuse_token=", 1)[1].split(";", 1)[0]
    client = scope.get("client")
    return f"address:{client[0] if client else 'unknown'}"


class RateLimitMiddleware:
    """ASGI middleware answering 429 (the JSON error shape, type ``RateLimitError``) over the limit."""

    def __init__(self, app: ASGIApp, per_minute: int):
        self.app = app
        self.limiter = RateLimiter(per_minute)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] in EXEMPT:
            await self.app(scope, receive, send)
            return
        wait = self.limiter.retry_after(request_key(scope), time.monotonic())
        if wait is None:
            await self.app(scope, receive, send)
            return
        response = error_response(429, "RateLimitError", f"more than {self.limiter.per_window} requests in "
                                  f"{self.limiter.window_s:g} s; retry in {math.ceil(wait)} s")
        response.headers["Retry-After"] = str(math.ceil(wait))
        await response(scope, receive, send)
