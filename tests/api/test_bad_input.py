"""Hostile and malformed input: every one is a 4xx problem, never a 500, and changes nothing."""

from __future__ import annotations

import base64
from unittest import mock

import pytest
from django.db import DatabaseError
from django.utils import timezone

from cases.models import Case, CaseEvent

pytestmark = pytest.mark.django_db


def _cursor(position: str) -> str:
    return base64.b64encode(f"p={position}".encode()).decode()


@pytest.mark.parametrize(
    "url",
    [
        "/api/v1/cases/?cursor=" + _cursor("garbage"),
        "/api/v1/cases/?ordering=requested_amount&cursor=" + _cursor("abc"),
        "/api/v1/programmes/?cursor=" + _cursor("not-a-date"),
        "/api/v1/cases/?page_size=²",
        "/api/v1/cases/?page_size=-1",
        "/api/v1/cases/?ordering=password",
        "/api/v1/cases/?enterprise=not-a-uuid",
        "/api/v1/cases/?submitted_after=yesterday",
        # Before year 1 once in UTC.
        "/api/v1/cases/?submitted_before=0001-01-01T01:00:00%2B05:00",
    ],
)
def test_bad_query_parameters_are_400(client_for, officer, url):
    response = client_for(officer).get(url)
    assert response.status_code == 400, response.content
    assert response["Content-Type"].startswith("application/problem+json")
    assert response.json()["errors"]


def test_submitted_filters_read_any_iso_offset(client_for, case_in, officer):
    # ISO 8601 allows offsets up to ±23:59; PostgreSQL refused those beyond ±15:59 with a 500.
    case = case_in("submitted")
    client = client_for(officer)
    response = client.get("/api/v1/cases/?submitted_before=0334-01-16T01:39:04.70659-17:09")
    assert response.status_code == 200, response.content
    assert response.json()["results"] == []
    response = client.get("/api/v1/cases/?submitted_after=0334-01-16T01:39:04-17:09")
    assert [c["id"] for c in response.json()["results"]] == [str(case.pk)]


def test_tampered_cursor_on_events_is_400(client_for, case_in, officer):
    case = case_in("in_review")
    response = client_for(officer).get(f"/api/v1/cases/{case.pk}/events/?cursor=" + _cursor("x"))
    assert response.status_code == 400


def _draft_body(enterprise, details):  # type: ignore[no-untyped-def]
    return {
        "enterprise": str(enterprise.pk),
        "programme": "shtt-test",
        "support_type": "trademark",
        "title": "Nhãn hiệu",
        "requested_amount": 1_000_000,
        "details": details,
    }


def _nested(depth: int) -> dict[str, object]:
    value: dict[str, object] = {}
    for _ in range(depth):
        value = {"a": value}
    return value


@pytest.mark.parametrize(
    ("details", "code"),
    [
        ({"x": "a\u0000b"}, "nul_character"),
        ({"a\u0000": 1}, "nul_character"),
        (_nested(30), "too_deep"),
        ({"blob": "x" * (65 * 1024)}, "too_large"),
        ("a string", "not_object"),
    ],
    ids=["nul-value", "nul-key", "too-deep", "too-large", "not-an-object"],
)
def test_unsafe_details_are_refused(client_for, applicant, enterprise, programme, details, code):
    response = client_for(applicant).post("/api/v1/cases/", _draft_body(enterprise, details), format="json")
    assert response.status_code == 400
    assert response.json()["errors"][0]["field"] == "details"
    assert response.json()["errors"][0]["code"] == code
    assert Case.objects.count() == 0


def test_json_nested_beyond_the_parser_is_400(client_for, applicant, programme):
    body = "[" * 100_000 + "]" * 100_000
    response = client_for(applicant).post("/api/v1/cases/", body, content_type="application/json")
    assert response.status_code == 400
    assert response.json()["code"] == "parse_error"


def test_a_json_list_body_is_400(client_for, applicant, programme):
    response = client_for(applicant).post("/api/v1/cases/", [1, 2], format="json")
    assert response.status_code == 400


def test_unknown_fields_are_refused_not_dropped(client_for, case_in, applicant):
    case = case_in("draft")
    response = client_for(applicant).patch(
        f"/api/v1/cases/{case.pk}/", {"titel": "x", "state": "approved"}, format="json"
    )
    assert response.status_code == 400
    assert {e["field"] for e in response.json()["errors"]} == {"titel", "state"}
    case.refresh_from_db()
    assert (case.state, case.version) == ("draft", 1)


def test_recommend_reject_with_an_amount_is_400(client_for, case_in, officer):
    case = case_in("in_review")
    response = client_for(officer).post(
        f"/api/v1/cases/{case.pk}/recommend/", {"outcome": "reject", "amount": 5, "comment": "x"}, format="json"
    )
    assert response.status_code == 400
    assert response.json()["errors"][0]["field"] == "amount"


def test_patch_of_a_submitted_case_is_409_even_with_a_bad_body(client_for, case_in, applicant):
    case = case_in("submitted")
    response = client_for(applicant).patch(f"/api/v1/cases/{case.pk}/", {"requested_amount": -1}, format="json")
    assert response.status_code == 409


def test_oversized_body_is_413(client_for, applicant, programme, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1024
    response = client_for(applicant).post("/api/v1/cases/", {"title": "x" * 4096}, format="json")
    assert response.status_code == 413
    assert response["Content-Type"].startswith("application/problem+json")


def test_health_is_503_problem_when_the_database_fails(client_for, db):
    with mock.patch("api.views.connection.cursor", side_effect=DatabaseError("down")):
        response = client_for(None).get("/api/v1/health/")
    assert response.status_code == 503
    body = response.json()
    assert response["Content-Type"].startswith("application/problem+json")
    assert (body["status"], body["database"], body["code"]) == (503, "unavailable", "database_unavailable")


def test_editing_startup_facts_clears_the_startup_verification(client_for, officer, applicant, enterprise):
    enterprise.is_startup = True
    enterprise.founded_on = timezone.localdate().replace(year=timezone.localdate().year - 2, day=1)
    enterprise.save()
    verify = client_for(officer).post(f"/api/v1/enterprises/{enterprise.pk}/verify/", {"startup": True})
    assert verify.status_code == 200, verify.content
    assert verify.json()["startup_verified_at"] is not None
    response = client_for(applicant).patch(f"/api/v1/enterprises/{enterprise.pk}/", {"founded_on": "2001-01-01"})
    assert response.status_code == 200
    assert response.json()["startup_verified_at"] is None


def test_nothing_was_written_by_refused_requests(client_for, applicant, programme):
    client_for(applicant).post("/api/v1/cases/", {"bogus": 1}, format="json")
    assert CaseEvent.objects.count() == 0
