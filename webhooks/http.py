"""One POST to a partner's receiver, with the SSRF guard on the connection itself.

`post` sends with `requests` through an adapter whose urllib3 connections check the
address each socket actually connected to (webhooks.guard.check_peer) before a byte is
written, so a host name that resolved to a public address when the URL was saved and to
127.0.0.1 now is refused. No proxy from the environment (a proxy would hide the peer), no
redirect followed (a 3xx is a failed attempt), a deadline on the whole exchange
(WEBHOOKS_TIMEOUT_SECONDS, not per read: a receiver trickling bytes cannot hold a worker),
and at most about a kilobyte of the answer is read, for the attempt's log.
"""

from __future__ import annotations

import contextlib
import contextvars
import datetime as dt
import email.utils
import socket
import threading
import time
from dataclasses import dataclass
from typing import Any

import requests
from django.conf import settings
from django.utils import timezone
from requests.adapters import HTTPAdapter
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool

from webhooks.guard import ForbiddenDestination, check_peer

USER_AGENT = "IPSupport-Webhooks/1.0 (+https://www.standardwebhooks.com)"
EXCERPT_BYTES = 1024
ERROR_LENGTH = 500

# The connections opened by the `post` running in this thread, for its deadline watchdog.
_open_connections: contextvars.ContextVar[list[HTTPConnection] | None] = contextvars.ContextVar(
    "webhook_connections", default=None
)


class _GuardedConnectionMixin:
    def _new_conn(self) -> socket.socket:
        sock: socket.socket = super()._new_conn()  # type: ignore[misc]
        try:
            check_peer(sock)
        except BaseException:
            sock.close()
            raise
        tracked = _open_connections.get()
        if tracked is not None:
            tracked.append(self)  # type: ignore[arg-type]
        return sock


class GuardedHTTPConnection(_GuardedConnectionMixin, HTTPConnection):
    pass


class GuardedHTTPSConnection(_GuardedConnectionMixin, HTTPSConnection):
    pass


class GuardedHTTPConnectionPool(HTTPConnectionPool):
    ConnectionCls = GuardedHTTPConnection


class GuardedHTTPSConnectionPool(HTTPSConnectionPool):
    ConnectionCls = GuardedHTTPSConnection


class GuardedAdapter(HTTPAdapter):
    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = {
            "http": GuardedHTTPConnectionPool,
            "https": GuardedHTTPSConnectionPool,
        }


@dataclass(frozen=True)
class Outcome:
    """How one attempt ended: a status code, or an error before there was one."""

    status_code: int | None
    error: str
    excerpt: str
    retry_after: float | None  # seconds, when the receiver said (Retry-After)
    duration_ms: int

    @property
    def ok(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300


def parse_retry_after(value: str | None, *, now: dt.datetime | None = None) -> float | None:
    """Retry-After as seconds from now: delta-seconds or an HTTP date (RFC 9110 10.2.3).
    None when absent or unreadable; never negative."""
    if not value:
        return None
    value = value.strip()
    if value.isascii() and value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=dt.UTC)
    return max(0.0, (when - (now or timezone.now())).total_seconds())


def _describe(exc: BaseException) -> str:
    if isinstance(exc, ForbiddenDestination):
        return f"refused: {exc}"
    if isinstance(exc, requests.Timeout):
        return "timed out"
    if isinstance(exc, requests.exceptions.SSLError):
        return f"TLS failed: {exc}"
    if isinstance(exc, requests.ConnectionError):
        reason = str(exc)
        if "refused" in reason.lower():
            return "connection refused"
        if "NameResolution" in reason or "Name or service not known" in reason:
            return "the host name does not resolve"
        return f"connection failed: {reason}"
    return f"{type(exc).__name__}: {exc}"


def _abort(connections: list[HTTPConnection]) -> None:
    """The watchdog: cut every connection of a `post` that outlived its deadline, which
    makes the read it is blocked in fail at once."""
    for connection in list(connections):
        sock = connection.sock
        if sock is not None:
            with contextlib.suppress(OSError):  # already closed
                sock.shutdown(socket.SHUT_RDWR)


def post(url: str, *, body: bytes, headers: dict[str, str], timeout: float | None = None) -> Outcome:
    """POST `body` to `url` once. Never raises for what the network or the receiver does:
    every way it can end is an Outcome."""
    deadline = float(timeout if timeout is not None else settings.WEBHOOKS_TIMEOUT_SECONDS)
    connections: list[HTTPConnection] = []
    token = _open_connections.set(connections)
    watchdog = threading.Timer(deadline, _abort, args=(connections,))
    watchdog.daemon = True
    started = time.monotonic()
    status_code: int | None = None
    error = excerpt = ""
    retry_after: float | None = None
    try:
        with requests.Session() as session:
            session.trust_env = False  # no proxy, netrc or CA bundle from the environment
            adapter = GuardedAdapter(max_retries=0)
            session.mount("http://", adapter)
            session.mount("https://", adapter)
            watchdog.start()
            response = session.post(
                url,
                data=body,
                headers={"Content-Type": "application/json", "User-Agent": USER_AGENT, **headers},
                timeout=deadline,
                allow_redirects=False,
                stream=True,
            )
            with response:
                status_code = response.status_code
                retry_after = parse_retry_after(response.headers.get("Retry-After"))
                try:
                    raw = response.raw.read(EXCERPT_BYTES, decode_content=True) or b""
                    excerpt = raw.decode("utf-8", errors="replace")
                except Exception:  # the status decides; a body cut short is only noted
                    error = "the answer's body could not be read in time"
    except Exception as exc:  # whatever the network or the receiver did is an outcome
        error = "timed out" if time.monotonic() - started >= deadline else _describe(exc)
    finally:
        watchdog.cancel()
        _open_connections.reset(token)
    elapsed_ms = int((time.monotonic() - started) * 1000)
    return Outcome(
        status_code=status_code,
        error=error[:ERROR_LENGTH],
        excerpt=excerpt[:1000],
        retry_after=retry_after,
        duration_ms=elapsed_ms,
    )
