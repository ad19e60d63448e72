"""Issue 12, finding 10: a scope opens what its name says and shows no more. A write
scope answers a partner key without `cases:read` with a receipt, not the case; reading a
filing or milestones takes `cases:read`; a webhook message carries no comment, supplement
item or other event data, whatever scopes the partner's keys hold."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import yaml
from django.utils import timezone
from jsonschema import Draft202012Validator

from cases.models import Case, Filing
from tests.factories import make_partner
from tests.problems import assert_problem
from webhooks.models import Message

SCHEMA = yaml.safe_load((Path(__file__).resolve().parents[2] / "docs" / "openapi.yaml").read_text())
PUBLIC_URL = "https://1.2.3.4/ipsupport/hooks"  # a public address: nothing is sent in these tests
RECEIPT = {"id", "reference", "state", "version"}


def _pay(client: Any, case: Case, **headers: Any) -> Any:
    body = {"amount": 1_000_000, "paid_on": timezone.localdate().isoformat(), "payment_reference": "UNC-2026-9"}
    return client.post(f"/api/v1/cases/{case.pk}/disburse/", body, format="json", **headers)


# --- payments:write ------------------------------------------------------------------------


def test_a_payment_only_key_gets_a_receipt_of_the_payment_not_the_case(key_client, enterprise, case_in):
    case = case_in("approved")
    _partner, raw = make_partner(name="Kho bạc", scopes=["payments:write"], enterprises=[enterprise])

    response = _pay(key_client(raw), case)

    assert response.status_code == 200, response.content
    case.refresh_from_db()
    assert response.json() == {
        "id": str(case.pk),
        "reference": case.reference,
        "state": "disbursed",
        "version": case.version,
    }
    assert response["ETag"] == f'"{case.version}"'


def test_a_payment_only_keys_retry_replays_the_receipt(key_client, enterprise, case_in):
    case = case_in("approved")
    _partner, raw = make_partner(name="Kho bạc", scopes=["payments:write"], enterprises=[enterprise])
    client = key_client(raw)

    first = _pay(client, case, HTTP_IDEMPOTENCY_KEY="b0d9c1a2-pay-once")
    again = _pay(client, case, HTTP_IDEMPOTENCY_KEY="b0d9c1a2-pay-once")

    assert first.status_code == again.status_code == 200, (first.content, again.content)
    assert set(again.json()) == RECEIPT
    assert again.json() == first.json()


def test_a_payment_key_that_also_reads_cases_gets_the_whole_case(key_client, enterprise, case_in):
    case = case_in("approved")
    _partner, raw = make_partner(name="Kho bạc", scopes=["payments:write", "cases:read"], enterprises=[enterprise])

    body = _pay(key_client(raw), case).json()

    assert {"cost_lines", "details", "enterprise_name", "disbursed_amount"} <= set(body)
    assert body["disbursed_amount"] == 1_000_000


def test_an_officer_paying_gets_the_whole_case(client_for, officer, case_in):
    body = _pay(client_for(officer), case_in("approved")).json()

    assert {"cost_lines", "details", "payment_reference"} <= set(body)


# --- milestones:write ----------------------------------------------------------------------


def test_a_milestones_only_key_reads_neither_the_filing_nor_the_milestones(key_client, enterprise, case_in):
    case = case_in("in_review")
    Filing.objects.create(case=case, office="noip", application_number="4-2026-00077", filed_on=timezone.localdate())
    _partner, raw = make_partner(scopes=["milestones:write"], enterprises=[enterprise])
    client = key_client(raw)

    for response in (
        client.get(f"/api/v1/cases/{case.pk}/filing/"),
        client.get(f"/api/v1/cases/{case.pk}/milestones/"),
        client.get(f"/api/v1/cases/{case.pk}/"),
        client.get(f"/api/v1/cases/{case.pk}/events/"),
    ):
        assert "cases:read" in assert_problem(response, 403)["detail"]
    head = client.head(f"/api/v1/cases/{case.pk}/filing/")
    assert head.status_code == 403
    assert b"4-2026-00077" not in head.content


def test_a_milestones_only_keys_filing_answer_is_what_it_wrote(key_client, enterprise, case_in):
    case = case_in("in_review")
    _partner, raw = make_partner(scopes=["milestones:write"], enterprises=[enterprise])
    sent = {
        "office": "noip",
        "application_number": "4-2026-00078",
        "filed_on": timezone.localdate().isoformat(),
        "nice_classes": [30],
    }

    response = key_client(raw).put(f"/api/v1/cases/{case.pk}/filing/", sent, format="json")

    assert response.status_code == 200, response.content
    body = response.json()
    assert set(body) == {*sent, "updated_at"}
    assert {key: body[key] for key in sent} == sent


# --- webhooks ------------------------------------------------------------------------------


def test_a_webhooks_only_partner_receives_no_comment_nor_supplement_item(
    key_client, client_for, officer, manager, enterprise, case_in
):
    _partner, raw = make_partner(name="Cổng", access="all", scopes=["webhooks"], created_by=manager)
    types = ["case.state_changed", "case.document_added", "case.milestone_recorded", "case.updated"]
    created = key_client(raw).post("/api/v1/webhooks/", {"url": PUBLIC_URL, "event_types": types}, format="json")
    assert created.status_code == 201, created.content
    case = case_in("in_review")
    earlier = list(Message.objects.values_list("pk", flat=True))

    asked = client_for(officer).post(
        f"/api/v1/cases/{case.pk}/request-supplement/",
        {"items": ["Bản sao hợp đồng thuê văn phòng số 17"], "comment": "Thiếu hồ sơ bí mật"},
        format="json",
    )

    assert asked.status_code == 200, asked.content
    [message] = Message.objects.filter(case=case).exclude(pk__in=earlier)
    delivery = message.deliveries.get(subscription_id=created.json()["id"])
    text = json.dumps(message.payload, ensure_ascii=False)
    assert "hợp đồng thuê" not in text
    assert "bí mật" not in text
    event = message.payload["data"]["event"]
    assert set(event) == {"id", "seq", "action", "from_state", "to_state", "actor", "at"}
    assert (event["action"], event["to_state"]) == ("request-supplement", "awaiting_supplement")
    shown = key_client(raw).get(f"/api/v1/webhooks/{created.json()['id']}/deliveries/{delivery.pk}/")
    assert shown.status_code == 200, shown.content
    assert shown.json()["payload"] == message.payload


# --- the schema says the same ----------------------------------------------------------------


def _ok_schema(method: str, path: str) -> dict[str, Any]:
    return SCHEMA["paths"][path][method]["responses"]["200"]["content"]["application/json"]["schema"]


def test_the_schema_declares_the_receipt_for_partner_writable_actions_only():
    components = SCHEMA["components"]["schemas"]
    disburse = _ok_schema("post", "/api/v1/cases/{id}/disburse/")
    either = components[disburse["$ref"].rsplit("/", 1)[-1]]

    assert [branch["$ref"].rsplit("/", 1)[-1] for branch in either["oneOf"]] == [
        "CaseDetailOutput",
        "CaseReceiptOutput",
    ]
    assert components["CaseReceiptOutput"]["additionalProperties"] is False
    assert set(components["CaseReceiptOutput"]["properties"]) == RECEIPT
    assert _ok_schema("post", "/api/v1/cases/{id}/approve/")["$ref"].endswith("/CaseDetailOutput")
    event = SCHEMA["webhooks"]["case.updated"]["post"]["requestBody"]["content"]["application/json"]["schema"]
    assert event["$ref"]


def test_a_receipt_and_a_whole_case_each_match_exactly_one_branch(key_client, client_for, officer, enterprise, case_in):
    validator = Draft202012Validator(
        {**_ok_schema("post", "/api/v1/cases/{id}/disburse/"), "components": SCHEMA["components"]}
    )
    _partner, raw = make_partner(name="Kho bạc", scopes=["payments:write"], enterprises=[enterprise])
    receipt = _pay(key_client(raw), case_in("approved")).json()
    whole = _pay(client_for(officer), case_in("approved")).json()

    assert [error.message for error in validator.iter_errors(receipt)] == []
    assert [error.message for error in validator.iter_errors(whole)] == []
