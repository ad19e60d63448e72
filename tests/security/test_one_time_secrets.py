"""Issue 12, finding 9: a secret shown once stays shown once. A retry with the same
Idempotency-Key replays the answer that issued a partner's API key or a webhook signing
secret with a note in the secret's place, and the kept record never holds the secret, not
even encrypted."""

from __future__ import annotations

import inspect
from typing import Any

import pytest
from rest_framework import serializers

import api.partners
import api.webhooks
from api.idempotency import caller_for, key_digest, one_time_secrets, response_cipher
from api.models import IdempotencyRecord
from partners.models import PartnerKey
from tests.factories import make_partner

pytestmark = pytest.mark.django_db

IDEMPOTENCY_KEY = "8d0c2f4e-1b7a-4e39-a3f5-6c2d9e1f0a47"
PUBLIC_URL = "https://1.2.3.4/ipsupport/hooks"  # a public address: nothing is sent in these tests


def _post_twice(client: Any, path: str, body: dict[str, Any] | None = None) -> tuple[Any, Any]:
    headers = {"Idempotency-Key": IDEMPOTENCY_KEY}
    first = client.post(path, body or {}, format="json", headers=headers)
    retry = client.post(path, body or {}, format="json", headers=headers)
    return first, retry


def _kept_body(user: Any, *, auth: Any = None) -> bytes:
    """The kept answer, decrypted as a replay would: what anyone reading the table with the
    server's secret and the client's Idempotency-Key could learn."""
    client = caller_for(user=user, auth=auth).client
    record = IdempotencyRecord.objects.get(digest=key_digest(client=client, key=IDEMPOTENCY_KEY))
    return response_cipher(client=client, key=IDEMPOTENCY_KEY).decrypt(bytes(record.body))


def _assert_replayed_without(first: Any, retry: Any, member: str, secret: str) -> None:
    assert retry.status_code == first.status_code
    assert retry["Idempotent-Replayed"] == "true"
    assert retry.get("Location") == first.get("Location")
    replayed = retry.json()
    assert secret not in retry.content.decode()
    assert replayed[member].startswith("Not shown again")
    # Everything else is the first answer: the client learns what was created.
    assert {k: v for k, v in replayed.items() if k != member} == {k: v for k, v in first.json().items() if k != member}


def test_a_retried_key_issue_does_not_show_the_key_again(client_for, manager):
    partner, _raw = make_partner(name="Cổng dịch vụ công tỉnh", access="all", created_by=manager)
    body = {"name": "production", "scopes": ["cases:read"]}

    first, retry = _post_twice(client_for(manager), f"/api/v1/partners/{partner.pk}/keys/", body)

    assert first.status_code == 201, first.content
    raw_key = first.json()["key"]
    assert raw_key.startswith("ipk_")
    _assert_replayed_without(first, retry, "key", raw_key)
    assert raw_key.encode() not in _kept_body(manager)
    assert PartnerKey.objects.filter(partner=partner).count() == 2  # the fixture's and this one: issued once


def test_a_retried_subscription_does_not_show_the_signing_secret_again(key_client, ip_agent):
    partner, raw = ip_agent
    body = {"url": PUBLIC_URL, "event_types": ["case.state_changed"]}

    first, retry = _post_twice(key_client(raw), "/api/v1/webhooks/", body)

    assert first.status_code == 201, first.content
    secret = first.json()["secret"]
    assert secret.startswith("whsec_")
    _assert_replayed_without(first, retry, "secret", secret)
    api_key = PartnerKey.objects.get(partner=partner)
    assert secret.encode() not in _kept_body(partner.user, auth=api_key)
    assert secret.removeprefix("whsec_").encode() not in _kept_body(partner.user, auth=api_key)


def test_a_retried_rotation_does_not_show_the_new_secret_again(key_client, ip_agent):
    partner, raw = ip_agent
    client = key_client(raw)
    created = client.post("/api/v1/webhooks/", {"url": PUBLIC_URL, "event_types": ["case.updated"]}, format="json")
    assert created.status_code == 201, created.content

    first, retry = _post_twice(client, f"/api/v1/webhooks/{created.json()['id']}/rotate-secret/")

    assert first.status_code == 200, first.content
    secret = first.json()["secret"]
    assert secret != created.json()["secret"]
    _assert_replayed_without(first, retry, "secret", secret)
    assert secret.encode() not in _kept_body(partner.user, auth=PartnerKey.objects.get(partner=partner))


def test_every_output_that_shows_a_secret_once_is_kept_without_it():
    """A new serializer whose field says it is shown once must be named in
    `one_time_secrets`, or its answers would be kept with the secret in them."""
    covered = one_time_secrets()
    found = []
    for module in (api.partners, api.webhooks):
        for _name, cls in inspect.getmembers(module, inspect.isclass):
            if not issubclass(cls, serializers.Serializer) or cls.__module__ != module.__name__:
                continue
            for name, field in cls().fields.items():
                if "shown this once" in str(field.help_text or "").lower():
                    found.append((cls, name))
    assert len(found) >= 3
    for cls, name in found:
        assert any(issubclass(cls, kept) and member == name for kept, member, _note in covered), (cls, name)
