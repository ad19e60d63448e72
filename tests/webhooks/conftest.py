"""Fixtures for the webhook tests: a real local receiver, settings that let the relay
reach it (it is on 127.0.0.1, over http), and a partner's subscription to it."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from accounts.models import User
from accounts.roles import grant_partner
from partners.models import Partner
from partners.services import grant_for
from tests.webhooks.receiver import Receiver
from webhooks import services
from webhooks.models import Subscription

# The receivers listen on 127.0.0.1; "localhost" may also resolve to ::1.
LOOPBACK = ["127.0.0.0/8", "::1/128"]


def as_partner(partner: Partner) -> User:
    """The partner's user, acting with its (only) key, as a request with that key would."""
    user = partner.user
    grant_partner(user, grant_for(partner.keys.get()))
    return user


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    server = Receiver()
    yield server
    server.close()


@pytest.fixture
def local_receivers(settings: Any) -> Any:
    """The relay may reach this machine (loopback only) over http, retries come fast, and an
    attempt times out after a second."""
    settings.WEBHOOKS_ALLOW_HTTP = True
    settings.WEBHOOKS_ALLOWED_NETWORKS = LOOPBACK
    settings.WEBHOOKS_TIMEOUT_SECONDS = 1.0
    settings.WEBHOOKS_LEASE_SECONDS = 5.0
    settings.WEBHOOKS_BACKOFF_BASE_SECONDS = 0.05
    settings.WEBHOOKS_BACKOFF_MAX_SECONDS = 0.2
    return settings


@pytest.fixture
def subscribe(ip_agent: tuple[Partner, str], local_receivers: Any) -> Callable[..., tuple[Subscription, str]]:
    """`subscribe(url)`: the IP agent subscribes `url` to every event type: (row, secret)."""

    def build(url: str, event_types: list[str] | None = None) -> tuple[Subscription, str]:
        partner, _key = ip_agent
        return services.subscription_create(
            actor=as_partner(partner), url=url, event_types=event_types or list(services.SUBSCRIBABLE)
        )

    return build
