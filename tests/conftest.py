"""Personas and clients. Every API test reads as a sentence about one of these people."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from django.core.cache import cache
from knox.models import AuthToken
from rest_framework.test import APIClient

from accounts.models import User
from accounts.roles import Role
from applicants.models import Enterprise
from cases.models import Case, CaseState, Programme
from tests.factories import EnterpriseFactory, ProgrammeFactory, UserFactory, add_member, make_case, make_partner


def pytest_configure(config: pytest.Config) -> None:
    # The default hasher takes about a second per password on this machine by design;
    # tests hash hundreds of them.
    from django.conf import settings

    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]

    # The live server's listen backlog is 10 (socketserver's default is 5): fifty clients
    # connecting at once would be reset before any request reached Django. Production
    # servers (gunicorn: 2048) queue them; so does the test server now.
    from django.core.servers.basehttp import ThreadedWSGIServer

    ThreadedWSGIServer.request_queue_size = 128


@pytest.fixture(autouse=True)
def _clear_cache() -> Iterator[None]:
    """Throttle counters live in the cache; each test starts with none."""
    cache.clear()
    yield
    cache.clear()


@pytest.fixture(autouse=True)
def _no_broker(settings):  # type: ignore[no-untyped-def]
    """Mail is sent in process unless a test brings its own worker, whatever the shell
    that runs the suite exported (the README's worker instructions, say)."""
    settings.CELERY_BROKER_URL = ""


@pytest.fixture(autouse=True)
def documents_dir(settings, tmp_path):  # type: ignore[no-untyped-def]
    """Each test stores documents in a directory of its own, removed with it."""
    storages = dict(settings.STORAGES)
    storages["documents"] = {
        "BACKEND": "django.core.files.storage.FileSystemStorage",
        "OPTIONS": {"location": str(tmp_path / "documents"), "base_url": None},
    }
    settings.STORAGES = storages
    return tmp_path / "documents"


@pytest.fixture
def enterprise(db: None) -> Enterprise:
    return EnterpriseFactory(name="Công ty TNHH Cà phê Langbiang")


@pytest.fixture
def other_enterprise(db: None) -> Enterprise:
    return EnterpriseFactory(name="Hợp tác xã Rau hoa Đà Lạt")


@pytest.fixture
def applicant(enterprise: Enterprise) -> User:
    user = UserFactory(username="applicant")
    add_member(user, enterprise)
    return user


@pytest.fixture
def other_applicant(other_enterprise: Enterprise) -> User:
    user = UserFactory(username="other_applicant")
    add_member(user, other_enterprise)
    return user


@pytest.fixture
def officer(db: None) -> User:
    return UserFactory(username="officer", roles=[Role.OFFICER])


@pytest.fixture
def officer2(db: None) -> User:
    return UserFactory(username="officer2", roles=[Role.OFFICER])


@pytest.fixture
def manager(db: None) -> User:
    return UserFactory(username="manager", roles=[Role.MANAGER])


@pytest.fixture
def manager2(db: None) -> User:
    return UserFactory(username="manager2", roles=[Role.MANAGER])


@pytest.fixture
def partner(manager: User) -> User:
    """A partner system no enterprise of these tests has authorised, with every scope: its
    user, carrying the key (`client_for` sends it)."""
    found, raw = make_partner(name="Đại lý SHTT khác", created_by=manager)
    user: User = found.user
    user.api_key = raw  # type: ignore[attr-defined]
    return user


@pytest.fixture
def programme(db: None) -> Programme:
    return ProgrammeFactory(code="shtt-test")


@pytest.fixture
def client_for() -> Callable[[User | None], APIClient]:
    """An API client that sends a real bearer token for `user` (or none); for a partner
    system's user, its API key."""

    def build(user: User | None, language: str = "en") -> APIClient:
        client = APIClient(HTTP_ACCEPT_LANGUAGE=language)
        if user is not None:
            token = getattr(user, "api_key", None)  # a partner system signs in with its key
            if token is None:
                _instance, token = AuthToken.objects.create(user=user)
            client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
        return client

    return build


@pytest.fixture
def key_client() -> Callable[[str], APIClient]:
    """An API client that sends a partner system's API key."""

    def build(raw_key: str, language: str = "en") -> APIClient:
        client = APIClient(HTTP_ACCEPT_LANGUAGE=language)
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw_key}")
        return client

    return build


@pytest.fixture
def ip_agent(enterprise: Enterprise, manager: User) -> tuple[Any, str]:
    """An IP agent the applicant's enterprise authorised, with every scope: (partner, key)."""
    return make_partner(name="Đại diện SHTT Lâm Đồng", enterprises=[enterprise], created_by=manager)


@pytest.fixture
def portal(manager: User) -> tuple[Any, str]:
    """The provincial one-stop portal: reads every case past draft. (partner, key)."""
    return make_partner(
        name="Cổng dịch vụ công tỉnh", access="all", scopes=["cases:read", "webhooks"], created_by=manager
    )


@pytest.fixture
def case_in(
    applicant: User, enterprise: Enterprise, programme: Programme, officer: User, manager: User
) -> Callable[..., Case]:
    """`case_in("approved")`: the applicant's case walked to that state."""

    def build(state: str = CaseState.DRAFT, **kwargs: object) -> Case:
        params: dict[str, object] = {
            "member": applicant,
            "enterprise": enterprise,
            "programme": programme,
            "officer": officer,
            "manager": manager,
        }
        params.update(kwargs)
        case = make_case(state=state, **params)  # type: ignore[arg-type]
        case.refresh_from_db()
        return case

    return build
