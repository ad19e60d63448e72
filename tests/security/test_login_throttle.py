"""Issue 12, findings 3 and 4: one login throttle for the API and the admin, counted in the
shared cache, that counts failures so that no one can keep another person out."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

import environ
import pytest
import redis
from django.test import Client, override_settings

from accounts.models import User
from accounts.roles import Role
from tests.factories import PASSWORD, UserFactory

pytestmark = pytest.mark.django_db

ROOT = Path(__file__).resolve().parents[2]
TOKEN_URL = "/api/v1/auth/token/"
ADMIN_LOGIN_URL = "/admin/login/"
REDIS_URL = "redis://127.0.0.1:6379/14"


@pytest.fixture
def staff_manager(db: None) -> User:
    user = UserFactory(username="staff_manager", roles=[Role.MANAGER])
    user.is_staff = True
    user.save()
    return user


def api_login(username: str, password: str, address: str, **extra: Any) -> Any:
    return Client().post(
        TOKEN_URL,
        {"username": username, "password": password},
        content_type="application/json",
        REMOTE_ADDR=address,
        **extra,
    )


def admin_login(client: Client, username: str, password: str, address: str) -> Any:
    return client.post(
        ADMIN_LOGIN_URL, {"username": username, "password": password, "next": "/admin/"}, REMOTE_ADDR=address
    )


def assert_admin_refused_as_throttled(client: Client, response: Any) -> None:
    assert response.status_code == 200, "the form is shown again, not a redirect into the admin"
    assert [e.code for e in response.context["form"].non_field_errors().as_data()] == ["throttled"]
    assert "_auth_user_id" not in client.session
    assert client.get("/admin/").status_code == 302, "still sent to the login page"


# --- Finding 3: the admin login is throttled, with the API ------------------------------------


def test_admin_login_after_forty_wrong_guesses_is_refused_even_with_the_right_password(staff_manager):
    client = Client()
    for _ in range(40):
        assert admin_login(client, "staff_manager", "wrong-guess", "198.51.100.7").status_code == 200

    response = admin_login(client, "staff_manager", PASSWORD, "198.51.100.7")

    assert_admin_refused_as_throttled(client, response)


def test_admin_login_from_another_address_is_not_refused(staff_manager):
    for _ in range(40):
        admin_login(Client(), "staff_manager", "wrong-guess", "198.51.100.7")
    client = Client()

    response = admin_login(client, "staff_manager", PASSWORD, "198.51.100.8")

    assert response.status_code == 302
    assert "_auth_user_id" in client.session


def test_api_and_admin_failures_count_against_one_allowance(staff_manager):
    for n in range(10):
        assert api_login(f"guess{n}", "wrong", "198.51.100.9").status_code == 401
    client = Client()
    for n in range(10):
        admin_login(client, f"guess{n}", "wrong", "198.51.100.9")

    assert api_login("staff_manager", PASSWORD, "198.51.100.9").status_code == 429
    assert_admin_refused_as_throttled(client, admin_login(client, "staff_manager", PASSWORD, "198.51.100.9"))


# --- Finding 4: no one can keep another person out --------------------------------------------


def test_wrong_passwords_for_manager_from_other_addresses_do_not_keep_the_manager_out(manager):
    for n in range(30):
        api_login("manager", "wrong", f"203.0.113.{n % 15 + 1}")
    assert api_login("manager", "wrong", "203.0.113.1").status_code == 429, "the attacker's addresses are refused"

    response = api_login("manager", PASSWORD, "192.0.2.50")

    assert response.status_code == 200
    assert response.json()["token"]


def test_the_manager_signs_in_to_the_api_and_the_admin_during_an_attack_from_elsewhere(staff_manager):
    for n in range(12):
        api_login("staff_manager", "wrong", f"203.0.113.{n + 1}")
        admin_login(Client(), "staff_manager", "wrong", f"203.0.113.{n + 1}")
    client = Client()

    assert api_login("staff_manager", PASSWORD, "192.0.2.51").status_code == 200
    response = admin_login(client, "staff_manager", PASSWORD, "192.0.2.51")

    assert response.status_code == 302
    assert "_auth_user_id" in client.session


def test_a_correct_password_clears_the_failures_of_its_address_for_that_username(manager):
    for _ in range(2):
        assert api_login("manager", "typo", "192.0.2.60").status_code == 401
    assert api_login("manager", PASSWORD, "192.0.2.60").status_code == 200
    for n in range(10):
        api_login("manager", "wrong", f"203.0.113.{n + 1}")

    assert api_login("manager", PASSWORD, "192.0.2.60").status_code == 200


def test_successful_logins_do_not_use_up_an_addresss_allowance(manager):
    statuses = {api_login("manager", PASSWORD, "198.51.100.16").status_code for _ in range(25)}

    assert statuses == {200}, "an office behind one address signs in all morning"


def test_an_address_out_of_failures_is_refused_without_the_password_being_checked(manager):
    for n in range(20):
        api_login(f"someone{n}", "wrong", "198.51.100.10")

    response = api_login("manager", PASSWORD, "198.51.100.10")

    assert response.status_code == 429
    assert 1 <= int(response["Retry-After"]) <= 60


@override_settings(NUM_PROXIES=1)
def test_behind_one_proxy_each_forwarded_client_has_its_own_allowance(manager):
    for n in range(20):
        api_login(f"someone{n}", "wrong", "10.0.0.2", HTTP_X_FORWARDED_FOR="198.51.100.11")

    refused = api_login("manager", PASSWORD, "10.0.0.2", HTTP_X_FORWARDED_FOR="198.51.100.11")
    forged = api_login("manager", PASSWORD, "10.0.0.2", HTTP_X_FORWARDED_FOR="198.51.100.99, 198.51.100.11")
    other = api_login("manager", PASSWORD, "10.0.0.2", HTTP_X_FORWARDED_FOR="198.51.100.12")

    assert (refused.status_code, forged.status_code, other.status_code) == (429, 429, 200)


# --- The operator sees the attempts -----------------------------------------------------------


def test_failed_and_throttled_logins_are_logged_with_username_address_and_surface(staff_manager, caplog):
    caplog.set_level(logging.WARNING, logger="accounts.login")
    for _ in range(10):
        api_login("staff_manager", "wrong", "198.51.100.13")
    admin_login(Client(), "staff_manager", PASSWORD, "198.51.100.13")

    records = [r for r in caplog.records if r.name == "accounts.login"]
    failed = [r.getMessage() for r in records if r.getMessage().startswith("login failed")]
    throttled = [r.getMessage() for r in records if r.getMessage().startswith("login throttled")]
    assert len(failed) == 10
    assert failed[0] == "login failed: surface=/api/v1/auth/token/ username='staff_manager' address=198.51.100.13"
    assert len(throttled) == 1
    assert throttled[0].startswith(
        "login throttled: surface=/admin/login/ username='staff_manager' address=198.51.100.13 limit=username"
    )
    assert PASSWORD not in caplog.text
    assert all(r.levelno == logging.WARNING for r in records)


# --- The counters live in the cache CACHE_URL names -------------------------------------------


def _run(code: str, **env: str) -> subprocess.CompletedProcess[str]:
    environment = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "CACHE_URL", "AUTH_"))}
    environment.update(DJANGO_SETTINGS_MODULE="backend.settings", **env)
    return subprocess.run(
        [sys.executable, "-c", f"import django; django.setup(); {code}"],
        cwd=ROOT,
        env=environment,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


@pytest.fixture
def redis_cache_url() -> Any:
    """CACHE_URL for a Redis database, with a prefix of this test's own; its keys go after."""
    prefix = f"test-{uuid.uuid4().hex}"
    yield f"{REDIS_URL}?key_prefix={prefix}"
    connection = redis.Redis.from_url(REDIS_URL)
    for key in connection.scan_iter(f"{prefix}*"):
        connection.delete(key)


def test_failures_counted_by_another_worker_through_cache_url_refuse_logins_here(manager, redis_cache_url):
    other_worker = _run(
        "from django.conf import settings; from accounts import login_throttle; "
        "print(settings.CACHES['default']['BACKEND']); "
        "[login_throttle.record_failure(address='198.51.100.14', username=f'u{n}', surface='test') for n in range(20)]",
        CACHE_URL=redis_cache_url,
    )
    assert other_worker.returncode == 0, other_worker.stderr
    assert other_worker.stdout.strip() == "django.core.cache.backends.redis.RedisCache"

    with override_settings(CACHES={"default": environ.Env.cache_url_config(redis_cache_url)}):
        refused = api_login("manager", PASSWORD, "198.51.100.14")
        elsewhere = api_login("manager", PASSWORD, "198.51.100.15")

    assert (refused.status_code, elsewhere.status_code) == (429, 200)


def test_production_refuses_to_start_without_a_shared_cache():
    production = {"DJANGO_PRODUCTION": "1", "DJANGO_SECRET_KEY": "x" * 60, "DJANGO_ALLOWED_HOSTS": "example.gov.vn"}

    without = _run("pass", **production)
    per_process = _run("pass", **production, CACHE_URL="locmemcache://")
    shared = _run("pass", **production, CACHE_URL="redis://127.0.0.1:6379/1")

    assert without.returncode != 0
    assert "CACHE_URL must name a cache every worker shares" in without.stderr
    assert per_process.returncode != 0
    assert shared.returncode == 0, shared.stderr


def test_a_rate_that_cannot_be_read_stops_the_start():
    result = _run("pass", AUTH_USERNAME_THROTTLE_RATE="ten a minute")

    assert result.returncode != 0
    assert "AUTH_USERNAME_THROTTLE_RATE must look like 20/min" in result.stderr
