"""Authentication, identity and the API's public surface: tokens, /me/, errors, health,
schema and documentation pages."""

from __future__ import annotations

import datetime as dt
import json
import re
from typing import Any

import pytest
import yaml
from django.contrib.staticfiles import finders
from django.test import Client, override_settings
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from knox.crypto import hash_token
from knox.models import AuthToken

from accounts.roles import Role
from applicants.models import MembershipRole
from tests.factories import PASSWORD, EnterpriseFactory, UserFactory, add_member
from tests.problems import assert_problem

TOKEN_URL = "/api/v1/auth/token/"
LOGOUT_URL = "/api/v1/auth/logout/"
ME_URL = "/api/v1/me/"
PROBLEM = "application/problem+json"


def error_fields(body: dict[str, Any]) -> set[str]:
    return {error["field"] for error in body.get("errors", [])}


def bearer(token: str) -> dict[str, str]:
    return {"HTTP_AUTHORIZATION": f"Bearer {token}"}


# --- POST /auth/token/ ----------------------------------------------------------------------


def test_user_with_correct_password_gets_a_token_and_its_expiry(client_for, applicant):
    before = timezone.now()
    response = client_for(None).post(TOKEN_URL, {"username": "applicant", "password": PASSWORD})

    assert response.status_code == 200
    body = response.json()
    assert set(body) >= {"token", "expires_at"}
    assert body["token"]
    expires_at = parse_datetime(body["expires_at"])
    assert expires_at is not None
    assert expires_at.tzinfo is not None, "timestamps carry an offset"
    assert before < expires_at <= timezone.now() + dt.timedelta(hours=10, minutes=1)


def test_issued_token_authenticates_as_its_user(client_for, applicant):
    token = client_for(None).post(TOKEN_URL, {"username": "applicant", "password": PASSWORD}).json()["token"]

    response = client_for(None).get(ME_URL, **bearer(token))

    assert response.status_code == 200
    assert response.json()["username"] == "applicant"


def test_token_is_stored_hashed_never_in_plaintext(client_for, applicant):
    token = client_for(None).post(TOKEN_URL, {"username": "applicant", "password": PASSWORD}).json()["token"]

    rows = list(AuthToken.objects.filter(user=applicant).values())
    assert len(rows) == 1
    stored = rows[0]
    assert stored["digest"] == hash_token(token)
    for column, value in stored.items():
        assert str(value) != token, f"plaintext token stored in {column}"
        assert token not in str(value), f"plaintext token stored in {column}"


def test_wrong_password_is_a_401_problem_with_the_scheme_to_use(client_for, applicant):
    response = client_for(None).post(TOKEN_URL, {"username": "applicant", "password": "not-the-password"})

    body = assert_problem(response, 401)
    assert body["code"] == "invalid_credentials"
    assert response["WWW-Authenticate"] == "Bearer", "the same scheme every other 401 names"
    assert "token" not in body
    assert not AuthToken.objects.filter(user=applicant).exists()


def test_unknown_username_gets_the_same_answer_as_a_wrong_password(client_for, applicant):
    wrong_password = client_for(None).post(TOKEN_URL, {"username": "applicant", "password": "nope-nope-1"})
    unknown_user = client_for(None).post(TOKEN_URL, {"username": "nobody-here", "password": "nope-nope-1"})

    first, second = assert_problem(wrong_password, 401), assert_problem(unknown_user, 401)
    assert first == second, "the answer must not reveal which usernames exist"


def test_missing_credentials_are_a_400_with_field_errors(client_for, db):
    response = client_for(None).post(TOKEN_URL, {}, format="json")

    body = assert_problem(response, 400)
    assert error_fields(body) == {"username", "password"}


def test_inactive_user_cannot_get_a_token(client_for, db):
    user = UserFactory(username="left-the-firm")
    user.is_active = False
    user.save()

    response = client_for(None).post(TOKEN_URL, {"username": "left-the-firm", "password": PASSWORD})

    assert_problem(response, 401)
    assert not AuthToken.objects.filter(user=user).exists()


def test_malformed_json_is_a_400_problem(client_for, db):
    response = client_for(None).post(TOKEN_URL, data='{"username": "applicant", ', content_type="application/json")

    body = assert_problem(response, 400)
    assert "token" not in body


# --- POST /auth/logout/ ---------------------------------------------------------------------


def test_logout_revokes_the_token_in_use(client_for, applicant):
    client = client_for(applicant)
    assert client.get(ME_URL).status_code == 200

    response = client.post(LOGOUT_URL)

    assert response.status_code == 204
    assert_problem(client.get(ME_URL), 401)


def test_logout_leaves_the_users_other_tokens_valid(client_for, applicant):
    phone, laptop = client_for(applicant), client_for(applicant)
    assert AuthToken.objects.filter(user=applicant).count() == 2

    assert phone.post(LOGOUT_URL).status_code == 204

    assert AuthToken.objects.filter(user=applicant).count() == 1
    assert laptop.get(ME_URL).status_code == 200


def test_logout_without_a_token_is_401(client_for, db):
    response = client_for(None).post(LOGOUT_URL)

    assert_problem(response, 401)
    assert response.has_header("WWW-Authenticate")


# --- GET /me/ -----------------------------------------------------------------------------------


def test_applicant_sees_their_role_and_enterprise_with_membership_role(client_for, applicant, enterprise):
    body = client_for(applicant).get(ME_URL).json()

    assert body["id"] == str(applicant.pk)
    assert body["username"] == "applicant"
    assert body["roles"] == [Role.APPLICANT]
    assert body["enterprises"] == [{"id": str(enterprise.pk), "name": enterprise.name, "role": MembershipRole.OWNER}]


def test_other_applicant_sees_only_their_own_enterprise(client_for, applicant, other_applicant, other_enterprise):
    body = client_for(other_applicant).get(ME_URL).json()

    assert body["username"] == "other_applicant"
    assert body["roles"] == [Role.APPLICANT]
    assert [e["id"] for e in body["enterprises"]] == [str(other_enterprise.pk)]


def test_member_of_two_enterprises_sees_both_with_their_roles(client_for, applicant, enterprise):
    second = EnterpriseFactory(name="Zeta Trading")
    add_member(applicant, second, role=MembershipRole.MEMBER)

    body = client_for(applicant).get(ME_URL).json()

    assert body["enterprises"] == [
        {"id": str(enterprise.pk), "name": enterprise.name, "role": MembershipRole.OWNER},
        {"id": str(second.pk), "name": "Zeta Trading", "role": MembershipRole.MEMBER},
    ]


@pytest.mark.parametrize(
    ("persona", "role"),
    [("officer", Role.OFFICER), ("officer2", Role.OFFICER), ("manager", Role.MANAGER), ("manager2", Role.MANAGER)],
)
def test_staff_see_their_role_and_no_enterprises(request, client_for, persona, role):
    user = request.getfixturevalue(persona)

    body = client_for(user).get(ME_URL).json()

    assert body["id"] == str(user.pk)
    assert body["username"] == persona
    assert body["roles"] == [role]
    assert body["enterprises"] == []


def test_partner_system_sees_the_partner_role(client_for, partner):
    body = client_for(partner).get(ME_URL).json()

    assert body["roles"] == [Role.PARTNER]
    assert body["enterprises"] == []


def test_superuser_has_the_admin_role(client_for, db):
    admin = UserFactory(username="root", is_superuser=True, is_staff=True)

    body = client_for(admin).get(ME_URL).json()

    assert Role.ADMIN in body["roles"]


def test_user_in_the_applicant_group_without_enterprise_is_an_applicant(client_for, db):
    newcomer = UserFactory(username="newcomer", roles=[Role.APPLICANT])

    body = client_for(newcomer).get(ME_URL).json()

    assert body["roles"] == [Role.APPLICANT]
    assert body["enterprises"] == []


def test_a_user_with_no_role_has_no_roles(client_for, db):
    nobody = UserFactory(username="nobody")
    assert not nobody.groups.exists()

    body = client_for(nobody).get(ME_URL).json()

    assert body["roles"] == []


# --- 401 --------------------------------------------------------------------------------------


def test_me_without_a_token_is_401_problem_with_www_authenticate(client_for, db):
    response = client_for(None).get(ME_URL)

    assert_problem(response, 401)
    assert response["WWW-Authenticate"].startswith("Bearer")


def test_me_with_an_unknown_token_is_401_problem_with_www_authenticate(client_for, db):
    response = client_for(None).get(ME_URL, **bearer("0" * 64))

    assert_problem(response, 401)
    assert response["WWW-Authenticate"].startswith("Bearer")


def test_expired_token_is_401(client_for, applicant):
    _instance, token = AuthToken.objects.create(user=applicant, expiry=dt.timedelta(hours=1))
    client = client_for(None)
    assert client.get(ME_URL, **bearer(token)).status_code == 200
    AuthToken.objects.filter(user=applicant).update(expiry=timezone.now() - dt.timedelta(seconds=1))

    response = client.get(ME_URL, **bearer(token))

    assert_problem(response, 401)
    assert response.has_header("WWW-Authenticate")


def test_token_of_a_deactivated_user_is_401(client_for, applicant):
    client = client_for(applicant)
    applicant.is_active = False
    applicant.save()

    assert_problem(client.get(ME_URL), 401)


# --- Unknown URLs, wrong methods, language ------------------------------------------------------


def test_unknown_url_under_the_api_is_a_404_problem(client_for, applicant):
    response = client_for(applicant).get("/api/v1/no-such-thing/")

    assert_problem(response, 404)


def test_unknown_url_is_a_404_problem_even_without_a_token(client_for, db):
    assert_problem(client_for(None).get("/api/v1/no-such-thing/"), 404)


def test_wrong_method_is_a_405_problem(client_for, applicant):
    response = client_for(applicant).delete(ME_URL)

    assert_problem(response, 405)
    assert "GET" in response["Allow"]


def test_wrong_method_on_a_public_endpoint_is_a_405_problem(client_for, db):
    assert_problem(client_for(None).post("/api/v1/health/"), 405)


def test_problem_keys_and_codes_do_not_change_with_the_language(client_for, db):
    english = assert_problem(client_for(None, language="en").get(ME_URL), 401)
    vietnamese = assert_problem(client_for(None, language="vi").get(ME_URL), 401)

    assert set(english) == set(vietnamese)
    assert english["type"] == vietnamese["type"]
    assert english["status"] == vietnamese["status"]


def test_problem_title_follows_accept_language(client_for, db):
    english = assert_problem(client_for(None, language="en").get(ME_URL), 401)
    vietnamese = assert_problem(client_for(None, language="vi").get(ME_URL), 401)

    assert english["title"] != vietnamese["title"]


# --- Health, schema, documentation -------------------------------------------------------------


def test_health_answers_200_without_authentication(client_for, db):
    response = client_for(None).get("/api/v1/health/")

    assert response.status_code == 200
    assert response.json()["status"] == "ok"


def test_schema_is_served_as_yaml_by_default(client_for, db):
    response = client_for(None).get("/api/v1/schema/")

    assert response.status_code == 200
    assert response["Content-Type"].startswith("application/vnd.oai.openapi")
    assert "json" not in response["Content-Type"]
    schema = yaml.safe_load(response.content)
    assert schema["openapi"].startswith("3.")
    assert "/api/v1/enterprises/" in schema["paths"]
    assert "/api/v1/programmes/{code}/" in schema["paths"]


def test_schema_is_served_as_json_with_format_json(client_for, db):
    response = client_for(None).get("/api/v1/schema/?format=json")

    assert response.status_code == 200
    assert response["Content-Type"].startswith("application/vnd.oai.openapi+json")
    schema = json.loads(response.content)
    assert schema["openapi"].startswith("3.")
    assert "/api/v1/auth/token/" in schema["paths"]


def test_schema_is_served_as_json_when_accept_asks_for_it(client_for, db):
    response = client_for(None).get("/api/v1/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json")

    assert response.status_code == 200
    assert "/api/v1/me/" in json.loads(response.content)["paths"]


_ASSET_ATTRIBUTE = re.compile(r"""(?:src|href)\s*=\s*["']([^"']+)["']""", re.IGNORECASE)
_EXTERNAL = re.compile(r"""(?:src|href)\s*=\s*["'](?:https?:)?//""", re.IGNORECASE)


def _docs_assets(html: str) -> list[str]:
    return [url for url in _ASSET_ATTRIBUTE.findall(html) if url.endswith((".js", ".css"))]


def _static_path(url: str) -> str:
    prefix = "/static/"
    assert url.startswith(prefix), f"{url} is not served from the local static files"
    return url[len(prefix) :].split("?")[0]


@pytest.mark.parametrize("page", ["/api/v1/docs/", "/api/v1/redoc/"])
def test_documentation_page_is_served_without_authentication(client_for, db, page):
    response = client_for(None).get(page)

    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/html")
    assert _docs_assets(response.content.decode()), "the page loads its viewer from a script"


@pytest.mark.parametrize("page", ["/api/v1/docs/", "/api/v1/redoc/"])
def test_documentation_page_references_no_external_host(client_for, db, page):
    html = client_for(None).get(page).content.decode()

    external = _EXTERNAL.findall(html)
    assert not external, f"{page} loads resources from another host"
    assert "cdn" not in html.lower()
    assert "fonts.googleapis.com" not in html


@pytest.mark.parametrize("page", ["/api/v1/docs/", "/api/v1/redoc/"])
def test_documentation_assets_exist_in_local_static_files(client_for, db, page):
    html = client_for(None).get(page).content.decode()

    for url in _docs_assets(html):
        assert finders.find(_static_path(url)) is not None, f"{url} is not in any static files directory"


@pytest.mark.parametrize("page", ["/api/v1/docs/", "/api/v1/redoc/"])
def test_documentation_asset_is_served_when_whitenoise_uses_the_finders(client_for, db, page):
    first_asset = _docs_assets(client_for(None).get(page).content.decode())[0]

    # Without collectstatic, whitenoise serves from the finders only when told to; a fresh
    # client builds a fresh middleware chain that reads the overridden settings.
    with override_settings(WHITENOISE_USE_FINDERS=True, WHITENOISE_AUTOREFRESH=True):
        response = Client().get(first_asset)

    assert response.status_code == 200
    assert b"".join(response.streaming_content if response.streaming else [response.content])


def test_framework_messages_are_vietnamese_too(client_for, applicant):
    """DRF's own vi catalogue lacks most messages; the project's supplies them."""
    client = client_for(applicant, language="vi")
    response = client.post("/api/v1/cases/", {"support_type": "logo"}, format="json")
    messages = {error["field"]: error["message"] for error in response.json()["errors"]}
    assert messages["support_type"] == '"logo" không phải là lựa chọn hợp lệ.'
    assert messages["requested_amount"] == "Trường này là bắt buộc."
    unauthenticated = client_for(None, language="vi").get("/api/v1/me/").json()
    assert unauthenticated["detail"] == "Chưa cung cấp thông tin xác thực."


def test_failures_for_one_username_stop_the_addresses_that_failed_for_it(client, db):
    """Failures for one username count whatever the address; once there are ten, an address
    that has failed for it is refused (a clean one is not: tests/security/test_login_throttle.py)."""

    def attempt(address: str) -> Any:
        return client.post(
            "/api/v1/auth/token/",
            {"username": "manager", "password": "wrong"},
            content_type="application/json",
            REMOTE_ADDR=address,
            HTTP_X_FORWARDED_FOR="203.0.113.1",
        )

    statuses = [attempt(f"10.0.0.{n}").status_code for n in range(1, 11)]
    response = attempt("10.0.0.1")

    assert statuses == [401] * 10
    assert response.status_code == 429
    assert response["Content-Type"].startswith("application/problem+json")
    assert "Retry-After" in response


def test_forged_forwarded_for_does_not_reset_the_address_throttle(client, db):
    statuses = []
    for attempt in range(21):
        response = client.post(
            "/api/v1/auth/token/",
            {"username": f"user{attempt}", "password": "wrong"},
            content_type="application/json",
            HTTP_X_FORWARDED_FOR=f"203.0.113.{attempt + 1}",
        )
        statuses.append(response.status_code)
    assert statuses[-1] == 429
