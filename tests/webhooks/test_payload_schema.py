"""What partners receive is what the schema's `webhooks` say they receive: every message the
outbox writes, of every type, validates against the request body declared for its type."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml
from jsonschema import Draft202012Validator, FormatChecker

from webhooks.models import Message

SCHEMA = yaml.safe_load((Path(__file__).resolve().parents[2] / "docs" / "openapi.yaml").read_text())
PUBLIC_URL = "https://1.2.3.4/ipsupport/hooks"  # a public address: nothing is sent in this test


def _validator(event_type: str) -> Draft202012Validator:
    body = SCHEMA["webhooks"][event_type]["post"]["requestBody"]["content"]["application/json"]["schema"]
    return Draft202012Validator(
        {**body, "components": SCHEMA["components"]},
        format_checker=FormatChecker(),
    )


@pytest.fixture
def agent_client(ip_agent: Any, key_client: Any) -> Any:
    return key_client(ip_agent[1])


def test_every_message_of_a_case_from_submission_to_payment_matches_its_declared_body(agent_client, case_in):
    every_type = ["case.state_changed", "case.document_added", "case.milestone_recorded", "case.updated"]
    created = agent_client.post("/api/v1/webhooks/", {"url": PUBLIC_URL, "event_types": every_type}, format="json")
    assert created.status_code == 201, created.content
    case = case_in("disbursed")
    pinged = agent_client.post(f"/api/v1/webhooks/{created.json()['id']}/ping/")
    assert pinged.status_code == 202, pinged.content

    messages = list(Message.objects.order_by("created_at"))

    assert {message.event_type for message in messages} == {*every_type, "webhook.ping"}
    for message in messages:
        errors = [error.message for error in _validator(message.event_type).iter_errors(message.payload)]
        assert errors == [], f"{message.event_type}: {errors}"
    submitted = next(m.payload for m in messages if m.payload["data"].get("event", {}).get("action") == "submit")
    assert submitted["data"]["event"]["from_state"] == "draft"
    assert submitted["data"]["case"]["id"] == str(case.pk)


def test_a_payload_outside_the_declaration_is_caught():
    broken = {"type": "case.updated", "timestamp": "2026-12-02T10:00:00+07:00", "data": {"case": {}, "event": {}}}

    assert list(_validator("case.updated").iter_errors(broken))
