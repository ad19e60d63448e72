"""One throttle for every login surface: the API's `POST /api/v1/auth/token/` and the admin's
login form both authenticate through `accounts.backends.ThrottledModelBackend`, which asks
this module before a password is checked and tells it how the check went.

It counts failures, not attempts:

- an address that has failed `AUTH_THROTTLE_RATE` times is refused, whatever the username;
- a username that has failed `AUTH_USERNAME_THROTTLE_RATE` times is refused only to the
  addresses that have failed for it themselves. Wrong passwords sent for `manager` from
  elsewhere do not keep the manager out: a correct password from an address with no failures
  for that username still gets through;
- a correct password clears the failures of its address-and-username pair.

Each counter is a window that opens at its first failure. The counters live in
`caches["default"]` (`CACHE_URL`), which every worker shares in production (settings refuse
to start without one). Failed and refused logins are logged on the `accounts.login` logger.
"""

from __future__ import annotations

import hashlib
import logging
import re
import time
from dataclasses import dataclass

from django.conf import settings
from django.core.cache import caches
from django.core.exceptions import ImproperlyConfigured
from django.http import HttpRequest

logger = logging.getLogger("accounts.login")

_PERIODS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
_RATE = re.compile(r"^\s*(\d+)\s*/\s*([smhd])[a-z]*\s*$")


@dataclass(frozen=True)
class Rate:
    limit: int
    seconds: int


class LoginThrottled(Exception):
    """Too many failures: the password was not checked. `retry_after` is in seconds."""

    def __init__(self, retry_after: int) -> None:
        super().__init__(f"login throttled for {retry_after} s")
        self.retry_after = retry_after


def parse_rate(value: str, *, setting: str) -> Rate:
    """`20/min` → Rate(20, 60), the same forms DRF's throttle rates take."""
    match = _RATE.match(value)
    if not match or int(match.group(1)) < 1:
        raise ImproperlyConfigured(f"{setting} must look like 20/min (N/sec, N/min, N/hour, N/day), not {value!r}.")
    return Rate(int(match.group(1)), _PERIODS[match.group(2)])


def address_rate() -> Rate:
    return parse_rate(settings.LOGIN_THROTTLE_ADDRESS_RATE, setting="AUTH_THROTTLE_RATE")


def username_rate() -> Rate:
    return parse_rate(settings.LOGIN_THROTTLE_USERNAME_RATE, setting="AUTH_USERNAME_THROTTLE_RATE")


def client_address(request: HttpRequest) -> str:
    """The connecting address, or with NUM_PROXIES = n the n-th address from the right of
    `X-Forwarded-For` (the one the outermost trusted proxy saw), as DRF's throttles read it.
    With 0, a client cannot choose its address by sending the header."""
    remote = str(request.META.get("REMOTE_ADDR") or "")
    forwarded = request.META.get("HTTP_X_FORWARDED_FOR")
    proxies = settings.NUM_PROXIES
    if proxies <= 0 or not forwarded:
        return remote
    addresses = str(forwarded).split(",")
    return addresses[-min(proxies, len(addresses))].strip()[:64] or remote


def _normal(username: str) -> str:
    return username.strip().lower()[:150]


def _key(*parts: str) -> str:
    # Digests: usernames may hold spaces or anything else a cache key must not.
    digest = hashlib.sha256("\x00".join(parts).encode("utf-8", "surrogatepass")).hexdigest()[:40]
    return f"login-throttle:{parts[0]}:{digest}"


def _keys(address: str, username: str) -> tuple[str, str, str]:
    name = _normal(username)
    return _key("address", address), _key("username", name), _key("pair", address, name)


def check(*, address: str, username: str, surface: str) -> None:
    """Raise LoginThrottled if this address, or this username from an address that has
    failed for it, is out of failures. Logs the refusal."""
    by_address, by_username, by_pair = _keys(address, username)
    cache = caches["default"]
    counts = cache.get_many([by_address, f"{by_address}:until", by_username, f"{by_username}:until", by_pair])
    now = int(time.time())
    refusal: tuple[str, str] | None = None
    if counts.get(by_address, 0) >= address_rate().limit:
        refusal = ("address", by_address)
    elif counts.get(by_pair, 0) > 0 and counts.get(by_username, 0) >= username_rate().limit:
        refusal = ("username", by_username)
    if refusal is None:
        return
    reason, key = refusal
    retry_after = max(1, int(counts.get(f"{key}:until", now + 60)) - now)
    logger.warning(
        "login throttled: surface=%s username=%r address=%s limit=%s retry_after=%d",
        surface,
        _normal(username),
        address,
        reason,
        retry_after,
    )
    raise LoginThrottled(retry_after)


def _count(key: str, seconds: int) -> None:
    cache = caches["default"]
    if cache.add(key, 1, seconds):
        cache.set(f"{key}:until", int(time.time()) + seconds, seconds)
        return
    try:
        cache.incr(key)
    except ValueError:  # expired between add and incr: a new window
        cache.set(key, 1, seconds)
        cache.set(f"{key}:until", int(time.time()) + seconds, seconds)


def record_failure(*, address: str, username: str, surface: str) -> None:
    """Count a wrong password (or unknown or inactive user) and log it."""
    by_address, by_username, by_pair = _keys(address, username)
    _count(by_address, address_rate().seconds)
    _count(by_username, username_rate().seconds)
    _count(by_pair, username_rate().seconds)
    logger.warning("login failed: surface=%s username=%r address=%s", surface, _normal(username), address)


def record_success(*, address: str, username: str) -> None:
    """A correct password clears its pair, so its address is clean again for this username.
    The address's and the username's own counts stay: a success must not buy more guesses."""
    _address, _username, by_pair = _keys(address, username)
    caches["default"].delete(by_pair)
