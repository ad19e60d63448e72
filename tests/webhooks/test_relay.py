"""The relay against a real HTTP receiver on this machine, run in process (as
`manage.py deliver_webhooks` runs it): signatures, order, retries, Retry-After, 410,
disabling, timeouts, redirects, the SSRF guard on the connection, leases."""

from __future__ import annotations

import datetime as dt
import time
from io import StringIO

import pytest
import time_machine
from django.core.management import call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from standardwebhooks import Webhook

from cases.models import Case, CaseEvent
from partners import services as partner_services
from tests.broker import broker_for_this_test
from tests.webhooks.conftest import as_partner
from tests.webhooks.receiver import Receiver, Reply, self_signed_context
from webhooks import outbox, relay, services
from webhooks.http import parse_retry_after
from webhooks.models import Attempt, Delivery, DeliveryStatus, Message, Subscription

pytestmark = pytest.mark.usefixtures("local_receivers")


def _deliveries(subscription: Subscription) -> list[Delivery]:
    return list(Delivery.objects.filter(subscription=subscription).select_related("message").order_by("message_id"))


def _ids(subscription: Subscription) -> list[str]:
    return [delivery.message.webhook_id for delivery in _deliveries(subscription)]


def test_a_case_event_reaches_the_receiver_signed_as_standard_webhooks_specifies(subscribe, receiver, case_in):
    subscription, secret = subscribe(receiver.url)
    case = case_in("submitted")

    assert relay.deliver_due() == 1

    [request] = receiver.received
    event = Webhook(secret).verify(request.body, request.headers)  # the reference library
    assert event["type"] == "case.state_changed"
    assert event["data"]["case"]["reference"] == case.reference
    assert event["data"]["event"]["to_state"] == "submitted"
    assert request.headers["content-type"] == "application/json"
    assert request.headers["webhook-id"] == Message.objects.get(case=case).webhook_id
    assert abs(int(request.headers["webhook-timestamp"]) - timezone.now().timestamp()) < 60
    [delivery] = _deliveries(subscription)
    assert (delivery.status, delivery.attempt_count, delivery.last_status_code) == ("delivered", 1, 200)
    [attempt] = delivery.attempts.all()
    assert (attempt.number, attempt.status_code, attempt.error, attempt.response_excerpt) == (1, 200, "", "ok")


def test_events_arrive_one_at_a_time_in_the_order_they_happened(subscribe, receiver, case_in):
    subscription, _secret = subscribe(receiver.url)
    case_in("awaiting_supplement")
    case_in("submitted")
    expected = _ids(subscription)
    assert len(expected) >= 4

    relay.deliver_due()

    assert receiver.ids() == expected
    arrivals = [request.at for request in receiver.received]
    assert arrivals == sorted(arrivals)


def test_a_failed_attempt_is_retried_later_and_the_events_after_it_wait_behind_it(
    subscribe, receiver, case_in, settings
):
    settings.WEBHOOKS_BACKOFF_BASE_SECONDS = 30
    settings.WEBHOOKS_BACKOFF_MAX_SECONDS = 3600
    subscription, _secret = subscribe(receiver.url)
    receiver.plan = [Reply(500, body=b"database down")]
    case_in("submitted")
    case_in("submitted")
    first, second = _ids(subscription)

    relay.deliver_due()

    assert receiver.ids() == [first]  # the second waits behind the first
    head = _deliveries(subscription)[0]
    assert (head.status, head.attempt_count, head.last_status_code) == ("pending", 1, 500)
    wait = (head.next_attempt_at - timezone.now()).total_seconds()
    assert 20 < wait <= 36  # 30 s, ±20%
    [attempt] = head.attempts.all()
    assert attempt.response_excerpt == "database down"
    assert attempt.next_attempt_at == head.next_attempt_at
    assert relay.deliver_due() == 0  # not yet

    with time_machine.travel(timezone.now() + dt.timedelta(seconds=40)):
        assert relay.deliver_due() == 2

    assert receiver.ids() == [first, first, second]
    assert [d.status for d in _deliveries(subscription)] == ["delivered", "delivered"]
    assert Subscription.objects.get(pk=subscription.pk).consecutive_failures == 0


def test_retry_after_sets_the_next_attempt_up_to_its_cap(subscribe, receiver, case_in, settings):
    subscription, _secret = subscribe(receiver.url)
    receiver.plan = [Reply(503, headers={"Retry-After": "120"})]
    case_in("submitted")

    relay.deliver_due()

    [delivery] = _deliveries(subscription)
    assert 115 < (delivery.next_attempt_at - timezone.now()).total_seconds() <= 120

    settings.WEBHOOKS_RETRY_AFTER_MAX_SECONDS = 600
    receiver.plan = [Reply(429, headers={"Retry-After": "86400"})]
    with time_machine.travel(timezone.now() + dt.timedelta(seconds=121)):
        relay.deliver_due()
        delivery.refresh_from_db()
        assert 590 < (delivery.next_attempt_at - timezone.now()).total_seconds() <= 600


def test_retry_after_is_read_as_seconds_or_as_an_http_date():
    now = dt.datetime(2026, 11, 28, 9, 0, tzinfo=dt.UTC)
    assert parse_retry_after("90", now=now) == 90
    assert parse_retry_after("Sat, 28 Nov 2026 09:05:00 GMT", now=now) == 300
    assert parse_retry_after("Sat, 28 Nov 2026 08:00:00 GMT", now=now) == 0
    assert parse_retry_after("soon", now=now) is None
    assert parse_retry_after(None, now=now) is None


def test_410_gone_disables_the_subscription_at_once_until_the_partner_enables_it(
    subscribe, receiver, case_in, ip_agent
):
    subscription, _secret = subscribe(receiver.url)
    receiver.plan = [Reply(410)]
    case_in("submitted")
    case_in("submitted")
    first, second = _ids(subscription)

    relay.deliver_due()
    relay.deliver_due()

    assert receiver.ids() == [first]
    subscription.refresh_from_db()
    assert not subscription.is_active
    assert subscription.disabled_reason == "The receiver answered 410 Gone."
    assert [d.status for d in _deliveries(subscription)] == ["pending", "pending"]

    services.subscription_update(actor=as_partner(ip_agent[0]), subscription=subscription, data={"is_active": True})
    relay.deliver_due()

    assert receiver.ids() == [first, first, second]
    subscription.refresh_from_db()
    assert (subscription.is_active, subscription.disabled_reason, subscription.consecutive_failures) == (True, "", 0)


def test_events_while_a_subscription_is_disabled_wait_for_it_and_arrive_in_order(
    subscribe, receiver, case_in, ip_agent
):
    """Disabled by a 410 or paused by its partner, a subscription still collects what
    happens; re-enabled, it gets all of it, in order. Nothing is lost."""
    subscription, _secret = subscribe(receiver.url)
    receiver.plan = [Reply(410)]
    case_in("submitted")
    relay.deliver_due()
    subscription.refresh_from_db()
    assert not subscription.is_active

    case_in("in_review")  # submitted, then received, while disabled
    missed = _ids(subscription)
    relay.deliver_due()
    assert len(missed) == 4
    assert len(receiver.received) == 1  # nothing is sent while disabled

    services.subscription_update(actor=as_partner(ip_agent[0]), subscription=subscription, data={"is_active": True})
    relay.deliver_due()

    assert receiver.ids()[1:] == missed
    assert {d.status for d in _deliveries(subscription)} == {"delivered"}


def test_the_payload_shows_times_as_the_api_does_and_the_events_position(subscribe, receiver, case_in):
    subscribe(receiver.url)
    case = case_in("submitted")
    relay.deliver_due()

    event = receiver.received[0].json()["data"]["event"]

    assert event["at"].endswith("+07:00")
    assert event["seq"] == CaseEvent.objects.get(case=case, action="submit").seq


def test_a_delivery_that_used_up_its_schedule_fails_and_the_next_one_goes(subscribe, receiver, case_in, settings):
    settings.WEBHOOKS_MAX_ATTEMPTS = 2
    settings.WEBHOOKS_BACKOFF_BASE_SECONDS = 0
    subscription, _secret = subscribe(receiver.url)
    receiver.plan = [Reply(500), Reply(500)]
    case_in("submitted")
    case_in("submitted")
    first, second = _ids(subscription)

    relay.deliver_due()

    assert receiver.ids() == [first, first, second]
    failed, delivered = _deliveries(subscription)
    assert (failed.status, failed.attempt_count, failed.next_attempt_at) == ("failed", 2, None)
    assert delivered.status == "delivered"
    assert Subscription.objects.get(pk=subscription.pk).is_active


def test_too_many_failures_in_a_row_disable_the_subscription(subscribe, receiver, case_in, settings):
    settings.WEBHOOKS_MAX_ATTEMPTS = 2
    settings.WEBHOOKS_DISABLE_AFTER_FAILURES = 3
    settings.WEBHOOKS_BACKOFF_BASE_SECONDS = 0
    subscription, _secret = subscribe(receiver.url)
    receiver.default = Reply(500)
    case_in("submitted")
    case_in("submitted")
    case_in("submitted")
    first, second, _third = _ids(subscription)

    relay.deliver_due()

    assert receiver.ids() == [first, first, second]
    subscription.refresh_from_db()
    assert not subscription.is_active
    assert subscription.disabled_reason == "3 failed attempts in a row."
    assert [d.status for d in _deliveries(subscription)] == ["failed", "pending", "pending"]


def test_an_answer_slower_than_the_timeout_is_a_failed_attempt(subscribe, receiver, case_in, settings):
    settings.WEBHOOKS_TIMEOUT_SECONDS = 0.5
    settings.WEBHOOKS_BACKOFF_BASE_SECONDS = 30  # one attempt, not a retry a moment later
    subscription, _secret = subscribe(receiver.url)
    receiver.plan = [Reply(delay=3)]
    case_in("submitted")

    relay.deliver_due()

    [attempt] = Attempt.objects.filter(delivery__subscription=subscription)
    assert (attempt.status_code, attempt.error) == (None, "timed out")
    assert attempt.duration_ms < 2000
    assert attempt.next_attempt_at is not None


def test_a_receiver_that_trickles_its_answer_is_cut_off_at_the_deadline(subscribe, receiver, case_in, settings):
    # Each byte comes well within the timeout, so only a deadline on the whole exchange stops it.
    settings.WEBHOOKS_TIMEOUT_SECONDS = 0.5
    settings.WEBHOOKS_BACKOFF_BASE_SECONDS = 30
    subscription, _secret = subscribe(receiver.url)
    receiver.plan = [Reply(headers={"X-Padding": "p" * 100}, trickle=0.05)]
    case_in("submitted")

    relay.deliver_due()

    [attempt] = Attempt.objects.filter(delivery__subscription=subscription)
    assert attempt.error == "timed out"
    assert attempt.duration_ms < 1500


def test_redirects_are_not_followed(subscribe, receiver, case_in, settings):
    settings.WEBHOOKS_BACKOFF_BASE_SECONDS = 30
    subscription, _secret = subscribe(receiver.url)
    receiver.plan = [Reply(302, headers={"Location": "http://127.0.0.1:9/elsewhere"})]
    case_in("submitted")

    relay.deliver_due()

    assert len(receiver.received) == 1
    [delivery] = _deliveries(subscription)
    assert (delivery.status, delivery.last_status_code) == ("pending", 302)


def test_the_connection_is_refused_when_a_saved_name_now_leads_inside(subscribe, receiver, case_in, settings):
    # Saved while allowed; then the name "moved" inside as far as the rules go (DNS rebinding
    # looks the same to the relay: a name that passed the check now resolves to 127.0.0.1).
    # Opening a private network for a provincial receiver does not open loopback.
    subscription, _secret = subscribe(f"http://localhost:{receiver.port}/hooks")
    settings.WEBHOOKS_ALLOWED_NETWORKS = ["10.0.0.0/8"]
    settings.WEBHOOKS_BACKOFF_BASE_SECONDS = 30  # one attempt, not a retry a moment later
    case_in("submitted")

    relay.deliver_due()

    assert receiver.received == []
    [attempt] = Attempt.objects.filter(delivery__subscription=subscription)
    assert attempt.error == "refused: 127.0.0.1 is not a public address (loopback, private, link-local or reserved)"
    assert attempt.status_code is None


def test_https_connections_are_checked_before_the_tls_handshake(subscribe, receiver, case_in, settings):
    subscription, _secret = subscribe(f"https://localhost:{receiver.port}/hooks")
    settings.WEBHOOKS_ALLOWED_NETWORKS = ["10.0.0.0/8"]
    settings.WEBHOOKS_BACKOFF_BASE_SECONDS = 30  # one attempt, not a retry a moment later
    case_in("submitted")

    relay.deliver_due()

    [attempt] = Attempt.objects.filter(delivery__subscription=subscription)
    assert attempt.error.startswith("refused: 127.0.0.1 is not a public address")
    assert receiver.received == []


def test_the_receivers_certificate_is_verified(subscribe, case_in, tmp_path, monkeypatch, settings):
    settings.WEBHOOKS_BACKOFF_BASE_SECONDS = 30
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(tmp_path / "receiver.crt"))  # ignored: no trust from the environment
    receiver = Receiver(tls=self_signed_context(tmp_path))
    try:
        subscription, _secret = subscribe(receiver.url)
        case_in("submitted")

        relay.deliver_due()
    finally:
        receiver.close()

    [attempt] = Attempt.objects.filter(delivery__subscription=subscription)
    assert attempt.error.startswith("TLS failed:")
    assert "CERTIFICATE_VERIFY_FAILED" in attempt.error
    assert receiver.received == []


def test_proxies_from_the_environment_are_not_used(subscribe, receiver, case_in, monkeypatch):
    # A proxy would hide the peer from the guard (and see every body): the relay's session
    # does not trust the environment. Nothing listens on the discard port.
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy", "all_proxy"):
        monkeypatch.setenv(name, "http://127.0.0.1:9")
    for name in ("NO_PROXY", "no_proxy"):
        monkeypatch.delenv(name, raising=False)
    subscription, _secret = subscribe(receiver.url)
    case_in("submitted")

    relay.deliver_due()

    assert len(receiver.received) == 1
    [delivery] = _deliveries(subscription)
    assert (delivery.status, delivery.attempt_count) == ("delivered", 1)


def test_an_enterprise_that_withdraws_its_authorisation_is_not_reported_on_any_more(
    subscribe, receiver, case_in, applicant, ip_agent
):
    subscription, _secret = subscribe(receiver.url)
    case_in("submitted")
    authorisation = ip_agent[0].authorisations.get()
    partner_services.authorisation_revoke(actor=applicant, authorisation=authorisation)

    relay.deliver_due()

    assert receiver.received == []
    [delivery] = _deliveries(subscription)
    assert (delivery.status, delivery.last_error) == (
        "failed",
        "not sent: the enterprise no longer authorises this partner",
    )
    assert not delivery.attempts.exists()


def test_an_inactive_partner_gets_nothing_until_it_is_active_again(subscribe, receiver, case_in, ip_agent, manager):
    subscription, _secret = subscribe(receiver.url)
    partner, _key = ip_agent
    case_in("submitted")
    partner_services.partner_update(actor=manager, partner=partner, data={"is_active": False})

    assert relay.deliver_due() == 0
    assert receiver.received == []

    partner_services.partner_update(actor=manager, partner=partner, data={"is_active": True})
    assert relay.deliver_due() == 1
    assert receiver.ids() == _ids(subscription)


def test_a_subscription_another_worker_holds_is_left_alone_until_its_lease_runs_out(subscribe, receiver, case_in):
    subscription, _secret = subscribe(receiver.url)
    case_in("submitted")
    Subscription.objects.filter(pk=subscription.pk).update(
        lease_until=timezone.now() + dt.timedelta(seconds=60), lease_token="7b5c4a1e-1111-4c4c-9e9e-000000000001"
    )

    assert list(relay.due_subscriptions()) == []
    assert relay.deliver_subscription(subscription.pk).attempts == 0
    assert receiver.received == []

    with time_machine.travel(timezone.now() + dt.timedelta(seconds=61)):
        assert [s.pk for s in relay.due_subscriptions()] == [subscription.pk]
        assert relay.deliver_subscription(subscription.pk).attempts == 1
    subscription.refresh_from_db()
    assert (subscription.lease_until, subscription.lease_token) == (None, None)  # released


def test_only_about_a_kilobyte_of_the_answer_is_kept(subscribe, receiver, case_in):
    subscription, _secret = subscribe(receiver.url)
    receiver.plan = [Reply(body=b"x" * 5000)]
    case_in("submitted")

    relay.deliver_due()

    [attempt] = Attempt.objects.filter(delivery__subscription=subscription)
    assert attempt.response_excerpt == "x" * 1000


def test_writing_the_outbox_costs_three_queries_however_many_subscribe(subscribe, receiver, case_in):
    case = Case.objects.select_related("programme").get(pk=case_in("submitted").pk)
    event = CaseEvent.objects.select_related("actor").filter(case=case).latest("seq")
    for _ in range(3):
        subscribe(receiver.url)

    with CaptureQueriesContext(connection) as queries:
        message = outbox.publish_case_event(case=case, event=event)

    # the message, the subscriptions that want it, their deliveries in one INSERT
    assert len(queries.captured_queries) == 3
    assert Delivery.objects.filter(message=message).count() == 3


def test_the_command_sends_what_is_due(subscribe, receiver, case_in):
    subscribe(receiver.url)
    case_in("submitted")
    out = StringIO()

    call_command("deliver_webhooks", stdout=out)

    assert out.getvalue().strip() == "Made 1 delivery attempt(s)."
    assert len(receiver.received) == 1


def test_without_a_broker_nothing_is_sent_from_the_request_itself(
    subscribe, receiver, case_in, officer, django_capture_on_commit_callbacks
):
    from cases import services as case_services

    subscription, _secret = subscribe(receiver.url)
    case = case_in("submitted")
    with django_capture_on_commit_callbacks(execute=True):
        case_services.case_receive(case=Case.objects.get(pk=case.pk), actor=officer)

    assert receiver.received == []
    assert relay.deliver_due() >= 2
    assert receiver.ids() == _ids(subscription)


def test_a_broker_that_cannot_be_reached_costs_one_try_then_the_sweep_takes_over(
    subscribe, receiver, settings, caplog, monkeypatch
):

    monkeypatch.setattr(relay._Broker, "down_until", 0.0)
    subscription, _secret = subscribe(receiver.url)
    with broker_for_this_test(settings, "redis://127.0.0.1:9/0"):  # nothing listens on the discard port
        assert relay.kick([subscription.pk]) == 0
        started = time.monotonic()
        assert relay.kick([subscription.pk]) == 0
        assert time.monotonic() - started < 0.1  # not tried again for a while

    assert "waits for the sweep" in caplog.text
    assert receiver.received == []


def test_a_run_hands_the_worker_over_after_its_budget(subscribe, receiver, case_in):
    subscription, _secret = subscribe(receiver.url)
    for _ in range(3):
        case_in("submitted")

    first = relay.deliver_subscription(subscription.pk, budget=2)
    assert (first.attempts, first.budget_spent) == (2, True)
    assert receiver.ids() == _ids(subscription)[:2]

    assert relay.deliver_subscription(subscription.pk, budget=2).attempts == 1
    assert receiver.ids() == _ids(subscription)


def test_after_a_rotation_either_secret_verifies_for_a_day(subscribe, receiver, case_in, ip_agent):
    subscription, old_secret = subscribe(receiver.url)
    subscription, new_secret = services.secret_rotate(actor=as_partner(ip_agent[0]), subscription=subscription)
    case_in("submitted")
    relay.deliver_due()

    [request] = receiver.received
    assert Webhook(new_secret).verify(request.body, request.headers)
    assert Webhook(old_secret).verify(request.body, request.headers)

    with time_machine.travel(timezone.now() + dt.timedelta(hours=25)):
        case_in("submitted")
        relay.deliver_due()
        later = receiver.received[-1]
        assert len(later.headers["webhook-signature"].split(" ")) == 1
        assert Webhook(new_secret).verify(later.body, later.headers)


def test_a_ping_goes_to_that_subscription_only(subscribe, receiver, ip_agent):
    other = Receiver()
    try:
        subscription, secret = subscribe(receiver.url)
        subscribe(other.url)

        delivery = services.subscription_ping(actor=as_partner(ip_agent[0]), subscription=subscription)
        relay.deliver_due()

        [request] = receiver.received
        assert Webhook(secret).verify(request.body, request.headers) == {
            "type": "webhook.ping",
            "timestamp": delivery.message.created_at.isoformat(),
            "data": {"subscription": str(subscription.pk)},
        }
        assert other.received == []
    finally:
        other.close()


def test_a_redelivery_carries_the_same_webhook_id_on_a_fresh_schedule(subscribe, receiver, case_in, ip_agent, settings):
    settings.WEBHOOKS_MAX_ATTEMPTS = 1
    subscription, _secret = subscribe(receiver.url)
    receiver.plan = [Reply(500)]
    case_in("submitted")
    relay.deliver_due()
    [delivery] = _deliveries(subscription)
    assert delivery.status == DeliveryStatus.FAILED

    services.delivery_redeliver(actor=as_partner(ip_agent[0]), delivery=delivery)
    relay.deliver_due()

    first, again = receiver.received
    assert first.webhook_id == again.webhook_id == delivery.message.webhook_id
    assert first.body == again.body
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempt_count) == ("delivered", 2)
    assert [(a.number, a.status_code, a.redelivery) for a in delivery.attempts.order_by("number")] == [
        (1, 500, False),
        (2, 200, True),
    ]


# --- Secrets the relay cannot decrypt ------------------------------------------------------------


def test_secrets_stay_readable_when_the_secret_key_is_rotated_the_django_way(subscribe, receiver, case_in, settings):
    settings.WEBHOOKS_ENCRYPTION_KEY = []
    old_key = settings.SECRET_KEY
    _subscription, secret = subscribe(receiver.url)
    settings.SECRET_KEY = "rotated-secret-key-" + "y" * 40
    settings.SECRET_KEY_FALLBACKS = [old_key]
    case_in("submitted")

    assert relay.deliver_due() == 1

    [request] = receiver.received
    assert Webhook(secret).verify(request.body, request.headers)


def test_an_unreadable_secret_is_not_the_receivers_failure_and_the_delivery_waits_for_the_key(
    subscribe, receiver, case_in, settings, caplog
):
    settings.WEBHOOKS_ENCRYPTION_KEY = []
    settings.WEBHOOKS_DISABLE_AFTER_FAILURES = 1
    old_key = settings.SECRET_KEY
    subscription, secret = subscribe(receiver.url)
    case_in("submitted")
    case_in("submitted")
    settings.SECRET_KEY = "rotated-secret-key-" + "y" * 40  # and the old one forgotten

    assert relay.deliver_due() == 0
    assert relay.deliver_subscription(subscription.pk) == relay.RunResult(attempts=0, budget_spent=False)

    assert receiver.received == []
    assert not Attempt.objects.filter(delivery__subscription=subscription).exists()
    assert [(d.status, d.attempt_count, d.last_error) for d in _deliveries(subscription)] == [("pending", 0, "")] * 2
    subscription.refresh_from_db()
    assert (subscription.is_active, subscription.consecutive_failures) == (True, 0)
    assert [r.levelname for r in caplog.records if "no key decrypts its signing secret" in r.message] == ["ERROR"] * 2

    settings.SECRET_KEY_FALLBACKS = [old_key]  # the operator puts the old key back
    assert relay.deliver_due() == 2

    assert receiver.ids() == _ids(subscription)
    for request in receiver.received:
        Webhook(secret).verify(request.body, request.headers)


def test_a_previous_secret_that_cannot_be_read_does_not_hold_deliveries_back(
    subscribe, receiver, case_in, ip_agent, settings
):
    # The key was lost; the partner rotates to get a secret the relay can read again.
    settings.WEBHOOKS_ENCRYPTION_KEY = []
    subscription, _lost = subscribe(receiver.url)
    settings.SECRET_KEY = "rotated-secret-key-" + "y" * 40
    subscription, secret = services.secret_rotate(actor=as_partner(ip_agent[0]), subscription=subscription)
    case_in("submitted")

    assert relay.deliver_due() == 1

    [request] = receiver.received
    assert len(request.headers["webhook-signature"].split(" ")) == 1
    assert Webhook(secret).verify(request.body, request.headers)
