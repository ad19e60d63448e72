"""The authentication backend every login surface goes through (settings.AUTHENTICATION_BACKENDS)."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.backends import ModelBackend
from django.http import HttpRequest

from accounts import login_throttle
from accounts.models import User


class ThrottledModelBackend(ModelBackend):
    """Django's username-and-password backend behind the login throttle: a throttled attempt
    raises LoginThrottled before the password is checked (the surface turns it into its own
    refusal), a failure is counted and logged, a success clears its address-and-username pair.

    Calls without a request (`manage.py`, the test client's `login()`) are not throttled:
    there is no address to count."""

    def authenticate(
        self, request: HttpRequest | None, username: str | None = None, password: str | None = None, **kwargs: Any
    ) -> User | None:
        name = username if username is not None else kwargs.get(User.USERNAME_FIELD)
        if request is None or not isinstance(name, str):
            return super().authenticate(request, username=username, password=password, **kwargs)
        address = login_throttle.client_address(request)
        surface = request.path
        login_throttle.check(address=address, username=name, surface=surface)
        user = super().authenticate(request, username=username, password=password, **kwargs)
        if user is None:
            login_throttle.record_failure(address=address, username=name, surface=surface)
        else:
            login_throttle.record_success(address=address, username=name)
        return user
