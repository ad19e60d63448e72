"""Nothing a client sends is dropped without a word: a misspelt field in a partner or webhook
body is a 400 naming it, and nothing is written."""

from __future__ import annotations

from typing import Any

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
