"""Throttles of the login endpoint."""

from __future__ import annotations

from typing import Any

from rest_framework.request import Request
from rest_framework.throttling import SimpleRateThrottle


class UsernameThrottle(SimpleRateThrottle):
    """Login attempts per username, whatever address they come from: guessing one
    person's password from many addresses still hits a limit."""

    scope = "auth_username"

    def get_cache_key(self, request: Request, view: Any) -> str | None:
        username = request.data.get("username") if hasattr(request.data, "get") else None
        if not isinstance(username, str) or not username.strip():
            return None
        return self.cache_format % {"scope": self.scope, "ident": username.strip().lower()[:150]}
