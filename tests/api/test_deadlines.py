"""The statutory clock over the API: the appointment date at receipt, the clock standing
still during a supplement, overdue cases, and the department's calendar overrides."""

from __future__ import annotations

import datetime as dt
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import time_machine

from cases import services
from cases.models import CalendarOverride, Case, CaseEvent, Programme, SupportRule
from tests.problems import assert_field_errors, assert_problem

HCM = ZoneInfo("Asia/Ho_Chi_Minh")


def at(*when: int) -> Any:
    """Freeze the clock at a local date and time (09:00 unless given)."""
    parts = (*when, 9) if len(when) == 3 else when
    return time_machine.travel(dt.datetime(*parts, tzinfo=HCM), tick=False)


def _rule(programme: Any, **values: Any) -> None:
    """The trademark rule's values, in a programme open all through 2026 (the tests travel)."""
    Programme.objects.filter(pk=programme.pk).update(
        year=2026, opens_on=dt.date(2026, 1, 1), closes_on=dt.date(2026, 12, 31)
    )
    programme.refresh_from_db()
    SupportRule.objects.filter(programme=programme, support_type="trademark").update(**values)


def _detail(client: Any, case: Case) -> dict[str, Any]:
    return client.get(f"/api/v1/cases/{case.pk}/").json()


def test_receipt_sets_the_appointment_date_in_working_days_across_tet(client_for, case_in, officer, programme):
    with at(2026, 2, 12):
        _rule(programme, processing_days=5)
        case = case_in("submitted")
        response = client_for(officer).post(f"/api/v1/cases/{case.pk}/receive/", {}, format="json")

        body = response.json()
        assert (body["due_on"], body["working_days_used"], body["working_days_left"]) == ("2026-02-26", 0, 5)
        event = CaseEvent.objects.filter(case=case, action="receive").get()
        assert event.data["due_on"] == "2026-02-26"


def test_the_clock_stands_still_during_a_supplement_and_the_date_moves_by_the_days_it_stood(
    client_for, case_in, applicant, officer, programme
):
    with at(2026, 3, 2):  # Monday
        _rule(programme, processing_days=10)
        case = case_in("in_review")
        assert _detail(client_for(officer), case)["due_on"] == "2026-03-16"
    with at(2026, 3, 4):  # two working days used
        client_for(officer).post(
            f"/api/v1/cases/{case.pk}/request-supplement/", {"items": ["Giấy ủy quyền"]}, format="json"
        )
    with at(2026, 3, 9):  # three working days later (5, 6, 9 March)
        paused = _detail(client_for(applicant), case)
        assert (paused["working_days_used"], paused["working_days_left"]) == (2, 8)
        assert paused["overdue"] is False
        resubmitted = client_for(applicant).post(f"/api/v1/cases/{case.pk}/resubmit/", {}, format="json").json()

    assert (resubmitted["due_on"], resubmitted["paused_working_days"]) == ("2026-03-19", 3)
    assert CaseEvent.objects.filter(case=case, action="resubmit").get().data == {
        "paused_working_days": 3,
        "due_on": "2026-03-19",
    }
    with at(2026, 3, 10):
        body = _detail(client_for(officer), case)
        assert (body["working_days_used"], body["working_days_left"]) == (3, 7)


def test_a_second_supplement_request_needs_a_reason_and_counts_against_the_office(
    client_for, case_in, applicant, officer
):
    case = case_in("awaiting_supplement")
    client_for(applicant).post(f"/api/v1/cases/{case.pk}/resubmit/", {}, format="json")
    url = f"/api/v1/cases/{case.pk}/request-supplement/"

    refused = client_for(officer).post(url, {"items": ["Bản sao hợp đồng"]}, format="json")
    assert_field_errors(refused, "reason")
    assert Case.objects.get(pk=case.pk).state == "in_review"

    asked = client_for(officer).post(
        url, {"items": ["Bản sao hợp đồng"], "reason": "Hợp đồng mới phát sinh sau lần bổ sung trước"}, format="json"
    )
    assert asked.status_code == 200, asked.content
    data = CaseEvent.objects.filter(case=case, action="request-supplement").order_by("-seq").first().data
    assert (data["counts_against_office"], data["reason"]) == (True, "Hợp đồng mới phát sinh sau lần bổ sung trước")
    assert asked.json()["supplement_requests"] == 2


def test_cases_past_their_date_are_overdue_and_can_be_listed_that_way(client_for, case_in, officer, programme):
    with at(2026, 5, 4):
        _rule(programme, processing_days=3)
        late = case_in("in_review")  # due 7 May
        paused = case_in("awaiting_supplement")
        on_time = case_in("submitted")
    with at(2026, 5, 12):
        client = client_for(officer)

        def ids(query: str) -> list[str]:
            response = client.get(f"/api/v1/cases/?{query}")
            assert response.status_code == 200, response.content
            return [row["id"] for row in response.json()["results"]]

        assert ids("overdue=true") == [str(late.pk)]
        assert set(ids("overdue=false")) == {str(paused.pk), str(on_time.pk)}
        # the paused case keeps its date while the clock stands still: it is due, not late
        assert set(ids("due_before=2026-05-08")) == {str(late.pk), str(paused.pk)}
        ordered = ids("ordering=due_on")
        assert set(ordered[:2]) == {str(late.pk), str(paused.pk)}
        assert ordered[-1] == str(on_time.pk)  # not received yet: no date, last
        assert _detail(client, late)["working_days_left"] == -3  # 8, 11, 12 May


def test_managers_override_the_calendar_and_it_counts_at_once(
    client_for, manager, applicant, officer, case_in, programme
):
    with at(2026, 6, 1):
        _rule(programme, processing_days=1)
        client = client_for(manager)
        made = client.post(
            "/api/v1/calendar/overrides/",
            {"date": "2026-06-02", "working": False, "note": "Quyết định của UBND tỉnh"},
            format="json",
        )
        assert made.status_code == 200, made.content
        case = case_in("submitted")
        received = client_for(officer).post(f"/api/v1/cases/{case.pk}/receive/", {}, format="json").json()
        assert received["due_on"] == "2026-06-03"  # 2 June is now a day off

        listed = client_for(applicant).get("/api/v1/calendar/overrides/").json()["results"]
        assert [(o["date"], o["working"]) for o in listed] == [("2026-06-02", False)]
        assert client.delete("/api/v1/calendar/overrides/2026-06-02/").status_code == 204
        assert not CalendarOverride.objects.exists()


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"date": "2026-02-30", "working": True, "note": "x"}, "date"),
        ({"date": "mai", "working": True, "note": "x"}, "date"),
        ({"date": "2026-06-02", "working": "perhaps", "note": "x"}, "working"),
        ({"date": "2026-06-02", "working": True, "note": "  "}, "note"),
    ],
)
def test_a_bad_override_is_400_and_changes_nothing(client_for, manager, body, field):
    assert_field_errors(client_for(manager).post("/api/v1/calendar/overrides/", body, format="json"), field)
    assert not CalendarOverride.objects.exists()


@pytest.mark.parametrize("persona", ["applicant", "officer", "partner"])
def test_only_managers_change_the_calendar(request, client_for, manager, persona):
    services.calendar_override_set(actor=manager, date=dt.date(2026, 6, 2), working=False, note="Nghỉ")
    client = client_for(request.getfixturevalue(persona))
    body = {"date": "2026-06-03", "working": False, "note": "x"}
    assert assert_problem(client.post("/api/v1/calendar/overrides/", body, format="json"), 403)
    assert assert_problem(client.delete("/api/v1/calendar/overrides/2026-06-02/"), 403)
    assert CalendarOverride.objects.count() == 1


def test_the_calendar_needs_a_token_and_an_existing_override(client_for, manager):
    assert_problem(client_for(None).get("/api/v1/calendar/overrides/"), 401)
    assert_problem(client_for(manager).delete("/api/v1/calendar/overrides/2026-06-09/"), 404)
    assert_problem(client_for(manager).delete("/api/v1/calendar/overrides/not-a-date/"), 404)
