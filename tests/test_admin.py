"""The admin shows the data but cannot write it: writes go through the services."""

from __future__ import annotations

import pytest
from django.urls import reverse

from accounts.models import User

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_client_logged_in(client):  # type: ignore[no-untyped-def]
    User.objects.create_superuser("root", "root@example.vn", "x-Strong-pass-1")
    client.login(username="root", password="x-Strong-pass-1")
    return client


def test_admin_can_view_a_case_but_not_change_it(admin_client_logged_in, case_in):
    case = case_in("in_review")
    url = reverse("admin:cases_case_change", args=[case.pk])
    assert admin_client_logged_in.get(url).status_code == 200
    assert admin_client_logged_in.post(url, {"title": "rewritten"}).status_code == 403
    case.refresh_from_db()
    assert (case.title, case.version) == ("Nhãn hiệu thử nghiệm", 3)


@pytest.mark.parametrize("name", ["cases_case", "cases_programme", "applicants_enterprise"])
def test_admin_cannot_add_or_delete(admin_client_logged_in, case_in, name):
    case = case_in("submitted")
    obj = {"cases_case": case, "cases_programme": case.programme, "applicants_enterprise": case.enterprise}[name]
    assert admin_client_logged_in.get(reverse(f"admin:{name}_add")).status_code == 403
    assert (
        admin_client_logged_in.post(reverse(f"admin:{name}_delete", args=[obj.pk]), {"post": "yes"}).status_code == 403
    )
