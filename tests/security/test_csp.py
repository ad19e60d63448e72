"""Every HTML page the server renders carries a Content-Security-Policy that lets it load
from this server only (issue 12, finding 11): the Swagger UI, ReDoc and the admin."""

from __future__ import annotations

import re

import pytest
from django.test import Client

from accounts.models import User
from tests.factories import PASSWORD

PAGES = ["/api/v1/docs/", "/api/v1/redoc/", "/admin/login/"]
# Sources that keep a page on its own server; anything else (a host, https:, *) is external.
LOCAL_SOURCES = {"'self'", "'none'", "'unsafe-inline'", "data:", "blob:"}
INLINE_SCRIPT = re.compile(r"<script\b(?![^>]*\bsrc=)(?![^>]*\btype=\"application/json\")[^>]*>\s*\S")


def _policy(header: str) -> dict[str, list[str]]:
    directives = (part.split() for part in header.split(";") if part.strip())
    return {name: sources for name, *sources in directives}


@pytest.mark.parametrize("page", PAGES)
def test_an_html_page_has_a_policy_with_no_external_source(client: Client, db: None, page: str) -> None:
    response = client.get(page)

    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/html")
    policy = _policy(response["Content-Security-Policy"])
    assert policy["default-src"] == ["'self'"]
    assert policy["script-src"] == ["'self'"], "no inline or external scripts"
    assert policy["object-src"] == ["'none'"]
    assert policy["frame-ancestors"] == ["'none'"]
    assert {source for sources in policy.values() for source in sources} <= LOCAL_SOURCES


@pytest.mark.parametrize("page", PAGES)
def test_an_html_page_runs_no_inline_script(client: Client, db: None, page: str) -> None:
    """script-src 'self' would refuse one: the page would break in a browser."""
    html = client.get(page).content.decode()

    assert INLINE_SCRIPT.search(html) is None


def test_swagger_ui_loads_its_setup_script_from_this_server(client: Client, db: None) -> None:
    html = client.get("/api/v1/docs/").content.decode()
    script = re.search(r'<script src="(/api/v1/docs/\?script=?)">', html)

    assert script is not None
    response = client.get(script.group(1))
    assert response.status_code == 200
    assert response["Content-Type"].startswith("application/javascript")
    assert "SwaggerUIBundle(" in response.content.decode()


def test_the_admin_pages_behind_the_login_have_the_policy_too(client: Client, db: None) -> None:
    User.objects.create_superuser("root", "root@example.vn", PASSWORD)
    client.login(username="root", password=PASSWORD)

    response = client.get("/admin/")

    assert response.status_code == 200
    assert "'self'" in response["Content-Security-Policy"]
    assert INLINE_SCRIPT.search(response.content.decode()) is None


def test_a_page_that_sets_its_own_policy_keeps_it(settings: object) -> None:
    from django.http import HttpResponse
    from django.test import RequestFactory

    from backend.csp import ContentSecurityPolicyMiddleware

    own = "default-src 'none'"
    page = HttpResponse("<p>x</p>", headers={"Content-Security-Policy": own})
    middleware = ContentSecurityPolicyMiddleware(lambda request: page)

    assert middleware(RequestFactory().get("/"))["Content-Security-Policy"] == own


def test_json_answers_carry_no_policy(client: Client, db: None) -> None:
    response = client.get("/api/v1/health/")

    assert response["Content-Type"] == "application/json"
    assert "Content-Security-Policy" not in response
