"""Case CRUD, visibility, filters and query counts over the API."""

from __future__ import annotations

from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from cases.models import Case, CaseEvent, CostLine
from tests.factories import make_case
from tests.problems import assert_field_errors

pytestmark = pytest.mark.django_db


def _create_body(firm: Any, **overrides: Any) -> dict[str, Any]:
    body = {
        "enterprise": str(firm.pk),
        "programme": "shtt-test",
        "support_type": "trademark",
        "title": "Nhãn hiệu Cà phê Langbiang",
        "requested_amount": 12_000_000,
        "details": {"nice_classes": [30, 43]},
    }
    body.update(overrides)
    return body


def test_applicant_creates_a_draft(client_for, applicant, enterprise, programme):
    response = client_for(applicant).post("/api/v1/cases/", _create_body(enterprise), format="json")
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["state"] == "draft"
    assert body["reference"] is None
    assert body["enterprise"] == str(enterprise.pk)
    assert body["programme"] == "shtt-test"
    assert body["details"] == {"nice_classes": [30, 43]}
    assert body["allowed_actions"] == ["submit"]
    for key in (
        "id", "reference", "enterprise", "programme", "support_type", "title", "details", "state",
        "requested_amount", "recommended_amount", "approved_amount", "disbursed_amount", "assigned_officer",
        "submitted_at", "received_at", "decided_at", "created_at", "updated_at", "allowed_actions",
    ):  # fmt: skip
        assert key in body
    assert CaseEvent.objects.filter(case_id=body["id"], action="create").count() == 1


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"requested_amount": 0}, "requested_amount"),
        ({"requested_amount": -1}, "requested_amount"),
        ({"requested_amount": "12M"}, "requested_amount"),
        ({"support_type": "perfume"}, "support_type"),
        ({"programme": "no-such-programme"}, "programme"),
        ({"enterprise": "00000000-0000-0000-0000-000000000000"}, "enterprise"),
        ({"title": ""}, "title"),
        ({"title": "   "}, "title"),
        ({"details": [1, 2]}, "details"),
    ],
)
def test_bad_create_body_is_400_and_writes_nothing(client_for, applicant, enterprise, programme, overrides, field):
    response = client_for(applicant).post("/api/v1/cases/", _create_body(enterprise, **overrides), format="json")
    assert response.status_code == 400
    assert response["Content-Type"].startswith("application/problem+json")
    assert field in {e["field"] for e in response.json()["errors"]}
    assert Case.objects.count() == 0
    assert CaseEvent.objects.count() == 0


def test_support_type_without_rule_is_400(client_for, applicant, enterprise, programme):
    programme.rules.filter(support_type="patent").delete()
    response = client_for(applicant).post("/api/v1/cases/", _create_body(enterprise, support_type="patent"))
    assert response.status_code == 400
    assert response.json()["errors"][0]["field"] == "support_type"


def test_applicant_cannot_create_for_another_enterprise(client_for, applicant, other_enterprise, programme):
    response = client_for(applicant).post("/api/v1/cases/", _create_body(other_enterprise), format="json")
    assert response.status_code == 400
    assert response.json()["errors"][0]["field"] == "enterprise"
    assert Case.objects.count() == 0


def test_officer_cannot_create_a_case(client_for, officer, enterprise, programme):
    response = client_for(officer).post("/api/v1/cases/", _create_body(enterprise), format="json")
    assert response.status_code == 403
    assert Case.objects.count() == 0


def test_malformed_json_is_400_problem(client_for, applicant, programme):
    response = client_for(applicant).post("/api/v1/cases/", "{not json", content_type="application/json")
    assert response.status_code == 400
    assert response["Content-Type"].startswith("application/problem+json")
    assert response.json()["code"] == "parse_error"


def test_drafts_are_visible_only_to_members(client_for, case_in, applicant, other_applicant, officer, manager):
    draft = case_in("draft")
    assert client_for(applicant).get(f"/api/v1/cases/{draft.pk}/").status_code == 200
    for user in (other_applicant, officer, manager):
        response = client_for(user).get(f"/api/v1/cases/{draft.pk}/")
        assert response.status_code == 404
        assert response["Content-Type"].startswith("application/problem+json")
        assert str(draft.pk) not in {c["id"] for c in client_for(user).get("/api/v1/cases/").json()["results"]}


def test_other_firms_case_is_404_everywhere(client_for, case_in, other_applicant):
    case = case_in("in_review")
    client = client_for(other_applicant)
    for url in (f"/api/v1/cases/{case.pk}/", f"/api/v1/cases/{case.pk}/events/"):
        assert client.get(url).status_code == 404
    assert client.patch(f"/api/v1/cases/{case.pk}/", {"title": "x"}, format="json").status_code == 404
    assert client.delete(f"/api/v1/cases/{case.pk}/").status_code == 404
    assert client.get("/api/v1/cases/").json()["results"] == []


def test_unauthenticated_list_is_401(client_for):
    response = client_for(None).get("/api/v1/cases/")
    assert response.status_code == 401
    assert response["WWW-Authenticate"].startswith("Bearer")


def test_member_edits_a_draft_and_the_trail_records_it(client_for, case_in, applicant):
    case = case_in("draft")
    response = client_for(applicant).patch(
        f"/api/v1/cases/{case.pk}/", {"title": "Tên mới", "requested_amount": 9_000_000}, format="json"
    )
    assert response.status_code == 200
    assert (response.json()["title"], response.json()["requested_amount"]) == ("Tên mới", 9_000_000)
    event = CaseEvent.objects.filter(case=case).order_by("-seq").first()
    assert event is not None
    assert (event.action, event.data) == ("update", {"fields": ["requested_amount", "title"]})


def test_patch_after_draft_is_409_and_changes_nothing(client_for, case_in, applicant):
    case = case_in("submitted")
    response = client_for(applicant).patch(f"/api/v1/cases/{case.pk}/", {"title": "Đổi"}, format="json")
    assert response.status_code == 409
    case.refresh_from_db()
    assert case.title == "Nhãn hiệu thử nghiệm"
    assert client_for(applicant).delete(f"/api/v1/cases/{case.pk}/").status_code == 409
    assert Case.objects.filter(pk=case.pk, deleted_at__isnull=True).exists()


def test_bad_patch_is_400_and_changes_nothing(client_for, case_in, applicant):
    case = case_in("draft")
    response = client_for(applicant).patch(f"/api/v1/cases/{case.pk}/", {"requested_amount": -5}, format="json")
    assert response.status_code == 400
    case.refresh_from_db()
    assert case.requested_amount == 20_000_000


def test_delete_draft_hides_it_and_keeps_the_trail(client_for, case_in, applicant):
    case = case_in("draft")
    assert client_for(applicant).delete(f"/api/v1/cases/{case.pk}/").status_code == 204
    assert client_for(applicant).get(f"/api/v1/cases/{case.pk}/").status_code == 404
    assert list(CaseEvent.objects.filter(case=case).values_list("action", flat=True)) == ["create", "delete"]


def test_events_cannot_be_edited_or_deleted(case_in):
    event = CaseEvent.objects.filter(case=case_in("submitted")).first()
    assert event is not None
    event.comment = "rewritten"
    with pytest.raises(RuntimeError):
        event.save()
    with pytest.raises(RuntimeError):
        event.delete()


def test_list_filters(client_for, case_in, officer, other_applicant, other_enterprise, programme):
    submitted = case_in("submitted", title="Nhãn hiệu Alpha")
    in_review = case_in("in_review", support_type="patent")
    approved = case_in("approved")
    other = make_case(
        state="submitted", member=other_applicant, enterprise=other_enterprise, programme=programme,
        title="Hoa Beta",
    )  # fmt: skip
    client = client_for(officer)

    def ids(query: str) -> set[str]:
        response = client.get("/api/v1/cases/?" + query)
        assert response.status_code == 200, response.content
        return {c["id"] for c in response.json()["results"]}

    assert ids("state=submitted") == {str(submitted.pk), str(other.pk)}
    assert ids("state=submitted&state=approved") == {str(submitted.pk), str(other.pk), str(approved.pk)}
    assert ids("support_type=patent") == {str(in_review.pk)}
    assert ids(f"enterprise={other_enterprise.pk}") == {str(other.pk)}
    assert ids(f"assigned_officer={officer.pk}") == {str(in_review.pk), str(approved.pk)}
    assert ids("search=alpha") == {str(submitted.pk)}
    assert ids(f"search={other_enterprise.tax_code}") == {str(other.pk)}
    assert ids(f"search={approved.reference}") == {str(approved.pk)}
    assert ids("search=beta") == {str(other.pk)}
    assert ids("programme=shtt-test") == {str(c.pk) for c in (submitted, in_review, approved, other)}
    assert ids("programme=nope") == set()
    assert ids("submitted_after=2999-01-01T00:00:00Z") == set()
    assert len(ids("submitted_before=2999-01-01T00:00:00Z")) == 4
    CostLine.objects.filter(case=in_review).delete()  # as for a case from before cost lines
    assert ids("has_cost_lines=false") == {str(in_review.pk)}
    assert ids("has_cost_lines=true") == {str(c.pk) for c in (submitted, approved, other)}


def test_bad_filter_value_is_400(client_for, officer):
    response = client_for(officer).get("/api/v1/cases/?state=flying")
    assert response.status_code == 400
    assert response["Content-Type"].startswith("application/problem+json")
    assert response.json()["errors"][0]["field"] == "state"


def test_ordering_and_cursor_pages(client_for, case_in, officer):
    made = [case_in("submitted", requested_amount=amount) for amount in (5_000_000, 7_000_000, 6_000_000)]
    client = client_for(officer)
    body = client.get("/api/v1/cases/?ordering=requested_amount&page_size=2").json()
    assert [c["requested_amount"] for c in body["results"]] == [5_000_000, 6_000_000]
    assert body["previous"] is None
    body = client.get(body["next"]).json()
    assert [c["requested_amount"] for c in body["results"]] == [7_000_000]
    assert body["next"] is None
    newest_first = [c["id"] for c in client.get("/api/v1/cases/").json()["results"]]
    assert newest_first == [str(c.pk) for c in reversed(made)]


@pytest.mark.parametrize("size", ["101", "1000", "0", "-1", "2.5"])
def test_a_page_size_outside_1_to_100_is_refused_not_cut(client_for, officer, size):
    response = client_for(officer).get(f"/api/v1/cases/?page_size={size}")

    assert_field_errors(response, "page_size")


def test_a_page_of_100_is_served(client_for, officer):
    assert client_for(officer).get("/api/v1/cases/?page_size=100").status_code == 200


def _list_queries(client: Any, url: str) -> int:
    with CaptureQueriesContext(connection) as ctx:
        response = client.get(url)
    assert response.status_code == 200
    return len(ctx.captured_queries)


def test_case_list_queries_do_not_grow_with_rows(client_for, case_in, officer):
    client = client_for(officer)
    for _ in range(10):
        case_in("submitted")
    ten = _list_queries(client, "/api/v1/cases/?page_size=100")
    for _ in range(45):
        case_in("in_review")
        case_in("submitted")
    response = client.get("/api/v1/cases/?page_size=100")
    assert len(response.json()["results"]) == 100
    hundred = _list_queries(client, "/api/v1/cases/?page_size=100")
    assert ten == hundred
    assert ten == 3  # the token, the principal (groups and memberships), the page


def test_detail_events_and_action_use_few_queries(client_for, case_in, officer):
    client = client_for(officer)
    case = case_in("disbursed")
    # token, principal, case, its cost lines, the calendar; the breakdown is the recorded one
    assert _list_queries(client, f"/api/v1/cases/{case.pk}/") == 5
    # undecided: also its rule and the enterprise's other cases under the rule; once
    # received, the calendar's overrides for the working days used and left
    assert _list_queries(client, f"/api/v1/cases/{case_in('in_review').pk}/") == 7
    assert _list_queries(client, f"/api/v1/cases/{case.pk}/events/") == 4
    fresh = case_in("submitted")
    with CaptureQueriesContext(connection) as ctx:
        assert client.post(f"/api/v1/cases/{fresh.pk}/receive/", {}, format="json").status_code == 200
    # token, principal, case; the rule and the calendar for the appointment date; guarded
    # update, event (inside savepoints in tests); the receipt slip (the documents it
    # lists, the case lock, the count, the row, its event); each of the two events' outbox
    # row for webhooks and the subscriptions that want it (their deliveries would be one
    # INSERT more, when some do); the detail again (case, cost lines, rule, other cases,
    # calendar). A constant number, whatever the case holds.
    assert len(ctx.captured_queries) <= 24


@pytest.mark.parametrize("state", ["draft", "in_review", "approved", "disbursed"])
def test_case_output_fast_path_matches_declared_fields(rf, case_in, applicant, officer, state):
    from api.serializers import CaseOutput
    from cases.selectors import case_get_visible

    case = case_in(state)
    user = applicant if state == "draft" else officer
    request = rf.get("/")
    request.user = user
    loaded = case_get_visible(user=user, case_id=case.pk)
    serializer = CaseOutput(context={"request": request})
    assert serializer.to_representation(loaded) == serializer.declared_representation(loaded)
