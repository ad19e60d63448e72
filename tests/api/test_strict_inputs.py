"""Nothing a client sends is dropped without a word: a misspelt field in a partner or webhook
body, an empty or repeated filter, a repeated page size or cursor, a boolean that is neither
true nor false: each is a 400 naming what is wrong, and nothing is written."""

from __future__ import annotations

from typing import Any
from unittest import mock

import pytest

from partners import services as partner_services
from partners.models import Authorisation, Partner, PartnerEvent, PartnerKey
from tests.problems import assert_field_errors
from webhooks.models import Subscription

pytestmark = pytest.mark.django_db

PUBLIC_URL = "https://1.2.3.4/ipsupport/hooks"  # a public address: nothing is sent in these tests


def _assert_unknown_field(response: Any, field: str) -> None:
    body = assert_field_errors(response, field)
    assert body["errors"][0]["code"] == "unknown_field"


def _partner_rows() -> list[tuple[Any, ...]]:
    return list(Partner.objects.order_by("pk").values_list("pk", "name", "access", "is_active", "updated_at"))


# --- Partner and webhook bodies ----------------------------------------------------------


def test_registering_a_partner_with_a_misspelt_field_registers_nothing(client_for, manager):
    response = client_for(manager).post("/api/v1/partners/", {"name": "Cổng", "acces": "all"}, format="json")

    _assert_unknown_field(response, "acces")
    assert not Partner.objects.exists()
    assert not PartnerEvent.objects.exists()


def test_changing_a_partner_with_a_misspelt_field_changes_nothing(client_for, manager, ip_agent):
    partner, _raw = ip_agent
    before, events = _partner_rows(), PartnerEvent.objects.count()

    response = client_for(manager).patch(
        f"/api/v1/partners/{partner.pk}/", {"name": "Mới", "is_activ": False}, format="json"
    )

    _assert_unknown_field(response, "is_activ")
    assert (_partner_rows(), PartnerEvent.objects.count()) == (before, events)


def test_a_partner_is_not_deactivated_by_a_zero(client_for, manager, ip_agent):
    # DRF read 0 as false: the schema says boolean, and a client sending 0 has a bug.
    partner, _raw = ip_agent
    before = _partner_rows()

    response = client_for(manager).patch(f"/api/v1/partners/{partner.pk}/", {"is_active": 0}, format="json")

    body = assert_field_errors(response, "is_active")
    assert body["errors"][0]["code"] == "invalid"
    assert _partner_rows() == before


@pytest.mark.parametrize(
    ("field", "value"),
    [("legal_basis", 0), ("name", ["X"]), ("budget_total", "5"), ("budget_total", True), ("year", {"y": 1})],
)
def test_a_json_value_of_another_type_is_refused(client_for, manager, programme, field, value):
    before = programme.updated_at

    response = client_for(manager).patch(f"/api/v1/programmes/{programme.code}/", {field: value}, format="json")

    assert_field_errors(response, field)
    programme.refresh_from_db()
    assert programme.updated_at == before


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"percent": True}, "percent"),
        ({"percent": [50]}, "percent"),
        ({"province_codes": [68]}, "province_codes"),
        ({"province_codes": ["68", True]}, "province_codes"),
        ({"startup_required": "yes"}, "startup_required"),
    ],
)
def test_a_rule_value_of_another_type_is_refused_inside_lists_too(client_for, manager, programme, body, field):
    rule = programme.rules.get(support_type="trademark")
    before = (rule.percent, rule.province_codes, rule.startup_required)

    response = client_for(manager).patch(f"/api/v1/programmes/{programme.code}/rules/trademark/", body, format="json")

    assert_field_errors(response, field)
    rule.refresh_from_db()
    assert (rule.percent, rule.province_codes, rule.startup_required) == before


def test_supplement_items_must_be_text(client_for, officer, case_in):
    case = case_in("in_review")

    response = client_for(officer).post(f"/api/v1/cases/{case.pk}/request-supplement/", {"items": [5]}, format="json")

    assert_field_errors(response, "items")
    case.refresh_from_db()
    assert case.state == "in_review"


def test_a_case_title_must_be_text(client_for, applicant, enterprise, programme):
    response = client_for(applicant).post(
        "/api/v1/cases/",
        {
            "enterprise": str(enterprise.pk),
            "programme": programme.code,
            "support_type": "trademark",
            "title": 12345,
            "requested_amount": 1_000_000,
        },
        format="json",
    )

    assert_field_errors(response, "title")


def test_issuing_a_key_with_a_misspelt_field_issues_none(client_for, manager, ip_agent):
    partner, _raw = ip_agent
    keys, events = PartnerKey.objects.count(), PartnerEvent.objects.count()

    response = client_for(manager).post(
        f"/api/v1/partners/{partner.pk}/keys/",
        {"name": "production", "scopes": ["cases:read"], "expires": "2030-01-01T00:00:00Z"},
        format="json",
    )

    _assert_unknown_field(response, "expires")
    assert (PartnerKey.objects.count(), PartnerEvent.objects.count()) == (keys, events)


def test_authorising_a_partner_with_a_misspelt_field_authorises_nothing(client_for, applicant, enterprise, manager):
    partner = partner_services.partner_create(actor=manager, name="Đại diện SHTT")

    response = client_for(applicant).post(
        f"/api/v1/enterprises/{enterprise.pk}/partners/", {"partner": str(partner.pk), "scope": "all"}, format="json"
    )

    _assert_unknown_field(response, "scope")
    assert not Authorisation.objects.exists()


@pytest.fixture
def agent_client(ip_agent, key_client):  # type: ignore[no-untyped-def]
    return key_client(ip_agent[1])


def test_subscribing_with_a_misspelt_field_subscribes_nothing(agent_client):
    response = agent_client.post(
        "/api/v1/webhooks/",
        {"url": PUBLIC_URL, "event_types": ["case.state_changed"], "secret": "whsec_mine"},
        format="json",
    )

    _assert_unknown_field(response, "secret")
    assert not Subscription.objects.exists()


def test_changing_a_subscription_with_a_misspelt_field_changes_nothing(agent_client):
    created = agent_client.post(
        "/api/v1/webhooks/", {"url": PUBLIC_URL, "event_types": ["case.state_changed"]}, format="json"
    )
    assert created.status_code == 201, created.content
    subscription = Subscription.objects.get(pk=created.json()["id"])
    events = PartnerEvent.objects.count()

    response = agent_client.patch(
        f"/api/v1/webhooks/{subscription.pk}/", {"description": "CRM", "active": False}, format="json"
    )

    _assert_unknown_field(response, "active")
    changed = Subscription.objects.get(pk=subscription.pk)
    assert (changed.description, changed.is_active, changed.updated_at) == ("", True, subscription.updated_at)
    assert PartnerEvent.objects.count() == events


# --- Query parameters ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("query", "field", "code"),
    [
        ("assigned_officer=", "assigned_officer", "blank"),
        ("enterprise=%20", "enterprise", "blank"),
        ("support_type=", "support_type", "blank"),
        ("submitted_after=", "submitted_after", "blank"),
        ("programme=", "programme", "blank"),
        ("state=&state=draft", "state", "blank"),
        ("overdue=maybe", "overdue", "invalid"),
        ("has_cost_lines=1", "has_cost_lines", "invalid"),
        ("overdue=2", "overdue", "invalid"),
        ("overdue=True", "overdue", "invalid"),
        (
            "enterprise=00000000-0000-0000-0000-000000000001&enterprise=00000000-0000-0000-0000-000000000002",
            "enterprise",
            "repeated",
        ),
        ("overdue=true&overdue=false", "overdue", "repeated"),
        ("page_size=5&page_size=7", "page_size", "repeated"),
        ("cursor=abc&cursor=def", "cursor", "repeated"),
        ("cursor=", "cursor", "invalid_cursor"),
        ("ordering=reference&ordering=-reference", "ordering", "repeated"),
        ("ordering=", "ordering", "blank"),
    ],
)
def test_a_loose_case_list_parameter_is_refused_by_name(client_for, officer, query, field, code):
    response = client_for(officer).get(f"/api/v1/cases/?{query}")

    assert assert_field_errors(response, field)["errors"][0]["code"] == code


def test_every_loose_parameter_is_named_at_once(client_for, officer):
    response = client_for(officer).get("/api/v1/cases/?assigned_officer=&overdue=maybe&search=a&search=b")

    assert_field_errors(response, "assigned_officer", "overdue", "search")


def test_several_states_still_match_any_of_them(client_for, officer, case_in):
    submitted, approved, draft = case_in("submitted"), case_in("approved"), case_in("draft")

    response = client_for(officer).get("/api/v1/cases/?state=submitted&state=approved")

    assert response.status_code == 200, response.content
    assert {row["id"] for row in response.json()["results"]} == {str(submitted.pk), str(approved.pk)}
    assert str(draft.pk) not in response.content.decode()


def test_a_cleared_search_box_lists_every_case(client_for, officer, case_in):
    case = case_in("submitted")

    response = client_for(officer).get("/api/v1/cases/?search=&overdue=false")

    assert response.status_code == 200, response.content
    assert [row["id"] for row in response.json()["results"]] == [str(case.pk)]


def test_the_unfiltered_list_builds_no_filter_form(client_for, officer, case_in):
    case_in("submitted")
    with mock.patch("cases.filters.CaseFilter.__init__", side_effect=AssertionError("form built")):
        response = client_for(officer).get("/api/v1/cases/?page_size=5&ordering=-created_at")

    assert response.status_code == 200, response.content
    assert len(response.json()["results"]) == 1


@pytest.mark.parametrize(
    ("query", "field"),
    [("status=", "status"), ("status=pending&status=failed", "status"), ("page_size=1&page_size=2", "page_size")],
)
def test_the_delivery_list_refuses_loose_parameters_too(agent_client, query, field):
    created = agent_client.post(
        "/api/v1/webhooks/", {"url": PUBLIC_URL, "event_types": ["case.state_changed"]}, format="json"
    )
    assert created.status_code == 201, created.content

    response = agent_client.get(f"/api/v1/webhooks/{created.json()['id']}/deliveries/?{query}")

    assert_field_errors(response, field)


@pytest.mark.parametrize("path", ["/api/v1/partners/", "/api/v1/programmes/", "/api/v1/enterprises/"])
def test_every_list_refuses_a_repeated_page_size(client_for, manager, path):
    assert_field_errors(client_for(manager).get(f"{path}?page_size=5&page_size=7"), "page_size")
