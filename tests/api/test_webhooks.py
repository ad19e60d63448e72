"""Webhook subscriptions over HTTP: a partner system with the `webhooks` scope manages its
own, sees its deliveries and their attempts, pings and asks for redeliveries; managers read
every partner's; nobody else sees any. Secrets are shown once; URLs that are not https or
that lead inside are refused."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from partners.models import PartnerEvent
from tests.factories import make_partner
from tests.problems import assert_field_errors, assert_problem
from tests.webhooks.conftest import LOOPBACK
from tests.webhooks.receiver import Receiver, Reply
from webhooks import relay, signing
from webhooks.models import Delivery, DeliveryStatus, Subscription

PUBLIC_URL = "https://1.2.3.4/ipsupport/hooks"  # a public address: nothing is sent in these tests
EVERY_TYPE = ["case.state_changed", "case.document_added", "case.milestone_recorded", "case.updated"]


def _create(client: Any, **body: Any) -> Any:
    return client.post(
        "/api/v1/webhooks/", {"url": PUBLIC_URL, "event_types": ["case.state_changed"], **body}, format="json"
    )


@pytest.fixture
def agent_client(ip_agent, key_client):
    return key_client(ip_agent[1])


@pytest.fixture
def existing(agent_client, case_in) -> tuple[Subscription, Delivery]:
    """The IP agent's subscription to every event type, owed one delivery."""
    response = _create(agent_client, event_types=EVERY_TYPE)
    assert response.status_code == 201, response.content
    case_in("submitted")
    subscription = Subscription.objects.get(pk=response.json()["id"])
    return subscription, Delivery.objects.get(subscription=subscription)


def _endpoints(subscription: Subscription, delivery: Delivery) -> list[tuple[str, str, dict[str, Any]]]:
    base = f"/api/v1/webhooks/{subscription.pk}/"
    return [
        ("get", "/api/v1/webhooks/", {}),
        ("post", "/api/v1/webhooks/", {"url": PUBLIC_URL, "event_types": ["case.updated"]}),
        ("get", base, {}),
        ("patch", base, {"description": "CRM"}),
        ("delete", base, {}),
        ("post", f"{base}rotate-secret/", {}),
        ("post", f"{base}ping/", {}),
        ("get", f"{base}deliveries/", {}),
        ("get", f"{base}deliveries/{delivery.pk}/", {}),
        ("post", f"{base}deliveries/{delivery.pk}/redeliver/", {}),
    ]


def _call(client: Any, method: str, path: str, body: dict[str, Any]) -> Any:
    return getattr(client, method)(path, body or None, format="json")


# --- Subscribing ----------------------------------------------------------------------------


def test_a_partner_subscribes_and_sees_the_secret_only_once(agent_client, ip_agent):
    partner, _key = ip_agent

    response = _create(agent_client, event_types=["case.updated", "case.state_changed"], description="CRM")

    assert response.status_code == 201, response.content
    body = response.json()
    secret = body["secret"]
    assert secret.startswith("whsec_")
    assert body["url"] == PUBLIC_URL
    assert body["event_types"] == ["case.state_changed", "case.updated"]
    assert (body["is_active"], body["description"], body["partner"]["id"]) == (True, "CRM", str(partner.pk))
    assert "secret" not in agent_client.get(f"/api/v1/webhooks/{body['id']}/").json()
    assert "secret" not in agent_client.get("/api/v1/webhooks/").json()["results"][0]
    stored = Subscription.objects.get(pk=body["id"])
    assert secret not in stored.secret_encrypted
    assert signing.decrypt(stored.secret_encrypted) == secret
    assert list(PartnerEvent.objects.filter(partner=partner).values_list("action", "actor", "data__subscription"))[
        -1
    ] == ("webhook_create", partner.user_id, body["id"])


def test_a_partner_sees_only_its_own_subscriptions(existing, portal, key_client):
    own = _create(key_client(portal[1]))
    assert own.status_code == 201, own.content

    listed = key_client(portal[1]).get("/api/v1/webhooks/").json()["results"]

    assert [row["id"] for row in listed] == [own.json()["id"]]


@pytest.mark.parametrize(
    "url",
    [
        "http://1.2.3.4/hooks",
        "https://127.0.0.1/hooks",
        "https://10.1.2.3/hooks",
        "https://169.254.169.254/latest/meta-data/",
        "https://[::1]/hooks",
        "https://localhost:8443/hooks",
        "ftp://1.2.3.4/hooks",
        "not a url",
    ],
)
def test_urls_that_are_not_https_or_lead_inside_are_refused(agent_client, url):
    assert_field_errors(_create(agent_client, url=url), "url")
    assert not Subscription.objects.exists()


def test_plain_http_is_refused_in_production_with_a_reason(agent_client):
    body = assert_field_errors(_create(agent_client, url="http://1.2.3.4/hooks"), "url")
    assert body["errors"][0]["code"] == "https_required"


@pytest.mark.parametrize("event_types", [["case.state_changed", "case.deleted"], ["webhook.ping"], []])
def test_event_types_must_be_known_and_at_least_one(agent_client, event_types):
    assert_field_errors(_create(agent_client, event_types=event_types), "event_types")
    assert not Subscription.objects.exists()


def test_every_bad_field_is_named_at_once(agent_client):
    assert_field_errors(_create(agent_client, url="https://10.0.0.1/", event_types=["nope"]), "url", "event_types")


def test_a_partner_has_at_most_ten_subscriptions(agent_client):
    for _ in range(10):
        assert _create(agent_client).status_code == 201
    assert_field_errors(_create(agent_client), "non_field_errors")


# --- Who may do what ------------------------------------------------------------------------


def test_every_endpoint_needs_credentials(existing, client_for):
    for method, path, body in _endpoints(*existing):
        response = _call(client_for(None), method, path, body)
        assert_problem(response, 401)
        assert response["WWW-Authenticate"], path


def test_a_key_without_the_webhooks_scope_opens_none_of_them(existing, key_client, enterprise, manager):
    _partner, raw = make_partner(name="Chỉ đọc", scopes=["cases:read"], enterprises=[enterprise], created_by=manager)
    for method, path, body in _endpoints(*existing):
        assert_problem(_call(key_client(raw), method, path, body), 403)
    assert Subscription.objects.count() == 1


def test_another_partners_subscription_is_not_found(existing, portal, key_client):
    for method, path, body in _endpoints(*existing)[2:]:
        assert_problem(_call(key_client(portal[1]), method, path, body), 404)
    assert Subscription.objects.get(pk=existing[0].pk).description == ""


@pytest.mark.parametrize("persona", ["applicant", "officer"])
def test_applicants_and_officers_see_no_webhooks(existing, client_for, persona, request):
    client = client_for(request.getfixturevalue(persona))
    for method, path, body in _endpoints(*existing):
        assert_problem(_call(client, method, path, body), 403)


def test_managers_read_every_subscription_and_delivery_but_change_nothing(existing, client_for, manager):
    subscription, delivery = existing
    client = client_for(manager)
    base = f"/api/v1/webhooks/{subscription.pk}/"

    assert [row["id"] for row in client.get("/api/v1/webhooks/").json()["results"]] == [str(subscription.pk)]
    assert client.get(base).json()["partner"]["name"] == "Đại diện SHTT Lâm Đồng"
    assert [row["id"] for row in client.get(f"{base}deliveries/").json()["results"]] == [str(delivery.pk)]
    assert client.get(f"{base}deliveries/{delivery.pk}/").status_code == 200
    for method, path, body in _endpoints(subscription, delivery):
        if method != "get":
            assert_problem(_call(client, method, path, body), 403)
    assert Subscription.objects.get(pk=subscription.pk).description == ""


def test_an_unknown_subscription_or_delivery_is_not_found(existing, agent_client):
    subscription, _delivery = existing
    other = "3f0c6f1e-0000-4000-8000-000000000000"
    assert_problem(agent_client.get(f"/api/v1/webhooks/{other}/"), 404)
    assert_problem(agent_client.get(f"/api/v1/webhooks/{subscription.pk}/deliveries/{other}/"), 404)


# --- Changing, rotating, deleting ---------------------------------------------------------------


def test_a_partner_changes_its_subscription_and_it_is_recorded(existing, agent_client, ip_agent):
    subscription, _delivery = existing

    response = agent_client.patch(
        f"/api/v1/webhooks/{subscription.pk}/",
        {"url": "https://1.2.3.5/hooks", "event_types": ["case.milestone_recorded"], "description": "ERP"},
        format="json",
    )

    assert response.status_code == 200, response.content
    body = response.json()
    assert (body["url"], body["event_types"], body["description"]) == (
        "https://1.2.3.5/hooks",
        ["case.milestone_recorded"],
        "ERP",
    )
    event = PartnerEvent.objects.filter(partner=ip_agent[0]).latest("at")
    assert (event.action, event.actor_id) == ("webhook_update", ip_agent[0].user_id)
    assert event.data["changes"] == {
        "url": "https://1.2.3.5/hooks",
        "event_types": ["case.milestone_recorded"],
        "description": "ERP",
    }


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"url": "https://192.168.0.1/"}, "url"),
        ({"event_types": ["case.unknown"]}, "event_types"),
        ({"is_active": "maybe"}, "is_active"),
    ],
)
def test_a_change_with_bad_input_is_refused(existing, agent_client, body, field):
    subscription, _delivery = existing
    assert_field_errors(agent_client.patch(f"/api/v1/webhooks/{subscription.pk}/", body, format="json"), field)
    assert Subscription.objects.get(pk=subscription.pk).url == PUBLIC_URL


def test_pausing_and_enabling_again_clears_the_reason_and_the_failures(existing, agent_client):
    subscription, delivery = existing
    path = f"/api/v1/webhooks/{subscription.pk}/"

    paused = agent_client.patch(path, {"is_active": False}, format="json").json()
    assert (paused["is_active"], paused["disabled_reason"]) == (False, "Disabled by the partner.")

    Subscription.objects.filter(pk=subscription.pk).update(
        disabled_reason="12 failed attempts in a row.", consecutive_failures=12
    )
    Delivery.objects.filter(pk=delivery.pk).update(next_attempt_at=timezone.now() + dt.timedelta(hours=6))
    enabled = agent_client.patch(path, {"is_active": True}, format="json").json()

    assert (enabled["is_active"], enabled["disabled_reason"], enabled["disabled_at"]) == (True, "", None)
    assert enabled["consecutive_failures"] == 0
    delivery.refresh_from_db()
    assert delivery.next_attempt_at <= timezone.now()  # the waiting retry is due at once


def test_a_rotation_shows_a_new_secret_once_and_the_old_one_signs_for_a_day(existing, agent_client, ip_agent):
    subscription, _delivery = existing
    old = signing.decrypt(subscription.secret_encrypted)

    response = agent_client.post(f"/api/v1/webhooks/{subscription.pk}/rotate-secret/")

    assert response.status_code == 200, response.content
    body = response.json()
    assert body["secret"].startswith("whsec_")
    assert body["secret"] != old
    expires = dt.datetime.fromisoformat(body["previous_secret_expires_at"])
    assert abs((expires - timezone.now()) - dt.timedelta(hours=24)) < dt.timedelta(minutes=1)
    subscription.refresh_from_db()
    assert signing.decrypt(subscription.secret_encrypted) == body["secret"]
    assert signing.decrypt(subscription.previous_secret_encrypted) == old
    assert relay.signing_secrets(subscription) == [body["secret"], old]
    assert PartnerEvent.objects.filter(partner=ip_agent[0], action="webhook_rotate_secret").count() == 1


def test_a_deleted_subscription_is_gone_with_its_deliveries(existing, agent_client, ip_agent):
    subscription, _delivery = existing

    assert agent_client.delete(f"/api/v1/webhooks/{subscription.pk}/").status_code == 204

    assert_problem(agent_client.get(f"/api/v1/webhooks/{subscription.pk}/"), 404)
    assert not Delivery.objects.exists()
    assert PartnerEvent.objects.filter(partner=ip_agent[0], action="webhook_delete").count() == 1


# --- Deliveries, pings and redeliveries ------------------------------------------------------------


def test_a_ping_is_queued_for_that_subscription(existing, agent_client, ip_agent):
    subscription, _delivery = existing

    response = agent_client.post(f"/api/v1/webhooks/{subscription.pk}/ping/")

    assert response.status_code == 202, response.content
    body = response.json()
    assert (body["event_type"], body["status"], body["case"]) == ("webhook.ping", "pending", None)
    assert body["webhook_id"].startswith("msg_")
    assert PartnerEvent.objects.filter(partner=ip_agent[0], action="webhook_ping").count() == 1


def test_a_disabled_subscription_cannot_be_pinged(existing, agent_client):
    subscription, _delivery = existing
    Subscription.objects.filter(pk=subscription.pk).update(is_active=False)

    assert_problem(agent_client.post(f"/api/v1/webhooks/{subscription.pk}/ping/"), 409)


def test_deliveries_are_listed_newest_first_and_filtered_by_status(existing, agent_client, case_in):
    subscription, first = existing
    case_in("submitted")
    case_in("submitted")
    Delivery.objects.filter(pk=first.pk).update(status=DeliveryStatus.DELIVERED)
    newest_first = list(
        Delivery.objects.filter(subscription=subscription).order_by("-message_id").values_list("pk", flat=True)
    )
    path = f"/api/v1/webhooks/{subscription.pk}/deliveries/"

    assert [row["id"] for row in agent_client.get(path).json()["results"]] == [str(pk) for pk in newest_first]
    delivered = agent_client.get(path, {"status": "delivered"}).json()["results"]
    assert [row["id"] for row in delivered] == [str(first.pk)]
    page = agent_client.get(path, {"page_size": 2}).json()
    assert len(page["results"]) == 2
    assert page["next"]
    assert [row["id"] for row in agent_client.get(page["next"]).json()["results"]] == [str(first.pk)]
    assert_field_errors(agent_client.get(path, {"status": "lost"}), "status")


def test_a_delivery_shows_what_was_sent_and_every_attempt(ip_agent, key_client, case_in, settings):
    settings.WEBHOOKS_ALLOW_HTTP = True
    settings.WEBHOOKS_ALLOWED_NETWORKS = LOOPBACK
    receiver = Receiver()
    try:
        receiver.plan = [Reply(503, body=b"maintenance"), Reply(200, body=b"thanks")]
        settings.WEBHOOKS_BACKOFF_BASE_SECONDS = 0
        client = key_client(ip_agent[1])
        subscription_id = _create(client, url=receiver.url).json()["id"]
        case = case_in("submitted")
        relay.deliver_due()
        [row] = client.get(f"/api/v1/webhooks/{subscription_id}/deliveries/").json()["results"]

        detail = client.get(f"/api/v1/webhooks/{subscription_id}/deliveries/{row['id']}/").json()
    finally:
        receiver.close()

    assert (detail["status"], detail["attempt_count"], detail["last_status_code"]) == ("delivered", 2, 200)
    assert detail["case"] == str(case.pk)
    assert detail["payload"]["data"]["case"]["reference"] == case.reference
    assert [(a["number"], a["status_code"], a["response_excerpt"]) for a in detail["attempts"]] == [
        (1, 503, "maintenance"),
        (2, 200, "thanks"),
    ]
    assert detail["webhook_id"] == receiver.received[0].webhook_id == receiver.received[1].webhook_id


def test_a_delivered_message_can_be_redelivered_with_the_same_webhook_id(existing, agent_client, ip_agent):
    subscription, delivery = existing
    Delivery.objects.filter(pk=delivery.pk).update(status=DeliveryStatus.DELIVERED, attempt_count=1)
    path = f"/api/v1/webhooks/{subscription.pk}/deliveries/{delivery.pk}/redeliver/"

    response = agent_client.post(path)

    assert response.status_code == 202, response.content
    body = response.json()
    assert (body["status"], body["webhook_id"]) == ("pending", delivery.message.webhook_id)
    assert body["redelivered_at"] is not None
    event = PartnerEvent.objects.get(partner=ip_agent[0], action="webhook_redeliver")
    assert event.data["webhook_id"] == delivery.message.webhook_id
    assert_problem(agent_client.post(path), 409)  # already on its way


def _queries(client: Any, path: str) -> int:
    with CaptureQueriesContext(connection) as ctx:
        assert client.get(path).status_code == 200
    return len(ctx.captured_queries)


def test_deliveries_about_an_enterprise_that_withdrew_its_authorisation_are_no_longer_shown(
    ip_agent, key_client, client_for, applicant, enterprise, manager, case_in, settings
):
    settings.WEBHOOKS_ALLOW_HTTP = True
    settings.WEBHOOKS_ALLOWED_NETWORKS = LOOPBACK
    receiver = Receiver()
    try:
        client = key_client(ip_agent[1])
        base = f"/api/v1/webhooks/{_create(client, url=receiver.url).json()['id']}/"
        case = case_in("submitted")
        relay.deliver_due()
    finally:
        receiver.close()
    [sent] = client.get(f"{base}deliveries/").json()["results"]
    assert sent["status"] == "delivered"
    ping = client.post(f"{base}ping/").json()  # about no enterprise
    cost = _queries(client, f"{base}deliveries/")

    withdrawn = client_for(applicant).delete(f"/api/v1/enterprises/{enterprise.pk}/partners/{ip_agent[0].pk}/")

    assert withdrawn.status_code == 204, withdrawn.content
    assert_problem(client.get(f"/api/v1/cases/{case.pk}/"), 404)
    assert [row["id"] for row in client.get(f"{base}deliveries/").json()["results"]] == [ping["id"]]
    assert_problem(client.get(f"{base}deliveries/{sent['id']}/"), 404)
    assert_problem(client.post(f"{base}deliveries/{sent['id']}/redeliver/"), 404)
    assert Delivery.objects.get(pk=sent["id"]).status == DeliveryStatus.DELIVERED  # not sent again
    assert client.get(f"{base}deliveries/{ping['id']}/").status_code == 200
    assert _queries(client, f"{base}deliveries/") == cost == 4
    # managers still see everything, to help
    staff = client_for(manager)
    assert {row["id"] for row in staff.get(f"{base}deliveries/").json()["results"]} == {sent["id"], ping["id"]}
    detail = staff.get(f"{base}deliveries/{sent['id']}/").json()
    assert detail["payload"]["data"]["case"]["reference"] == case.reference


def test_a_partner_that_serves_every_enterprise_sees_every_delivery(portal, key_client, case_in):
    client = key_client(portal[1])
    base = f"/api/v1/webhooks/{_create(client, event_types=EVERY_TYPE).json()['id']}/"
    case = case_in("submitted")

    [row] = client.get(f"{base}deliveries/").json()["results"]

    assert row["case"] == str(case.pk)
    assert client.get(f"{base}deliveries/{row['id']}/").json()["payload"]["data"]["case"]["reference"] == (
        case.reference
    )


# --- Cost ---------------------------------------------------------------------------------------------


def test_lists_cost_the_same_whatever_their_length(existing, agent_client, case_in, client_for, manager):
    subscription, _delivery = existing

    staff = client_for(manager)

    def queries(path: str) -> tuple[int, int]:
        return _queries(agent_client, path), _queries(staff, path)

    deliveries = f"/api/v1/webhooks/{subscription.pk}/deliveries/"
    before = (queries("/api/v1/webhooks/"), queries(deliveries))
    _create(agent_client)
    case_in("submitted")
    case_in("submitted")
    agent_client.post(f"/api/v1/webhooks/{subscription.pk}/ping/")
    # key and reach (a manager: token and roles), [the subscription,] the page with its
    # partner or message joined
    assert (queries("/api/v1/webhooks/"), queries(deliveries)) == before == ((3, 3), (4, 4))
