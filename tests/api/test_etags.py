"""No lost updates: cases and enterprises carry their version as a strong ETag, and every
change honours If-Match (412 when the caller's copy is stale), checked by the service
where the write happens, not only in the view. The ETag is for If-Match only: the body
depends on who asks and on the date, so a GET never answers 304, and every answer with an
ETag is private to its caller."""

from __future__ import annotations

import threading
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
import requests
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from knox.models import AuthToken

from applicants import services as applicant_services
from applicants.models import Enterprise
from cases import services as case_services
from cases.models import Case, CaseEvent, CostLine, Document, Filing, Milestone
from common.exceptions import PreconditionFailed
from tests.api.test_documents import CountingPayload, post_counted
from tests.factories import PDF, cost_line
from tests.problems import assert_problem

pytestmark = pytest.mark.django_db


def case_url(case: Case, tail: str = "") -> str:
    return f"/api/v1/cases/{case.pk}/{tail}"


def enterprise_url(enterprise: Enterprise, tail: str = "") -> str:
    return f"/api/v1/enterprises/{enterprise.pk}/{tail}"


def etag(version: int) -> str:
    return f'"{version}"'


def version_of(case: Case) -> int:
    return Case.objects.values_list("version", flat=True).get(pk=case.pk)


def events_of(case: Case) -> int:
    return CaseEvent.objects.filter(case=case).count()


def assert_stale(response: Any, current: int) -> None:
    """A 412 problem that tells the caller the current version."""
    body = assert_problem(response, 412)
    assert body["code"] == "precondition_failed"
    assert body["current_version"] == current
    assert response["ETag"] == etag(current)


# --- Reading: the ETag, for If-Match only -----------------------------------------------


def test_case_detail_carries_its_version_as_a_strong_etag(client_for, case_in, applicant):
    case = case_in("submitted")

    response = client_for(applicant).get(case_url(case))

    assert response.status_code == 200
    assert response["ETag"] == etag(case.version) == etag(response.json()["version"])


def vary(response: Any) -> list[str]:
    return [field.strip() for field in response.get("Vary", "").split(",") if field.strip()]


def assert_private(response: Any) -> None:
    """Kept by no shared cache, and never handed to another token or language."""
    assert response["Cache-Control"] == "private"
    assert {"Authorization", "Accept-Language"} <= set(vary(response)), response.get("Vary")


def test_an_answer_with_an_etag_is_private_to_its_caller(client_for, case_in, applicant, enterprise):
    case = case_in("draft")
    client = client_for(applicant)

    answers = [
        client.get(case_url(case)),
        client.patch(case_url(case), {"title": "Riêng tư"}),
        client.put(
            case_url(case, "cost-lines/"),
            {"cost_lines": [cost_line(invoice_date=timezone.localdate().isoformat())]},
            format="json",
        ),
        client.post(case_url(case, "submit/"), {}),
        client.get(enterprise_url(enterprise)),
        client.patch(enterprise_url(enterprise), {"address": "9 Bà Triệu"}),
    ]

    for response in answers:
        assert response.status_code == 200, (response.request["PATH_INFO"], response.content)
        assert "ETag" in response
        assert_private(response)


def test_a_new_case_or_enterprise_is_private_to_its_caller(client_for, applicant, enterprise, programme):
    case = client_for(applicant).post(
        "/api/v1/cases/",
        {
            "enterprise": str(enterprise.pk),
            "programme": programme.code,
            "support_type": "trademark",
            "title": "Nhãn hiệu Chè Tâm Châu",
            "requested_amount": 15_000_000,
        },
        format="json",
    )

    assert case.status_code == 201, case.content
    assert_private(case)


def test_a_manager_sending_the_officers_etag_gets_their_own_actions(client_for, case_in, officer, manager):
    """The reviewer's case: the ETag names the case's version, not the body, which also holds
    what the asker may do. If-None-Match is not answered: the manager gets the full body."""
    case = case_in("in_review")
    seen_by_officer = client_for(officer).get(case_url(case))

    response = client_for(manager).get(case_url(case), headers={"If-None-Match": seen_by_officer["ETag"]})

    assert response.status_code == 200
    assert response["ETag"] == seen_by_officer["ETag"]
    assert response.json()["allowed_actions"] != seen_by_officer.json()["allowed_actions"]


@pytest.mark.parametrize("condition", ['"{v}"', 'W/"{v}"', '"999", "{v}"', "*"])
def test_if_none_match_is_not_answered_with_304(client_for, case_in, applicant, enterprise, condition):
    case = case_in("draft")
    client = client_for(applicant)

    for url, version in ((case_url(case), case.version), (enterprise_url(enterprise), enterprise.version)):
        response = client.get(url, headers={"If-None-Match": condition.format(v=version)})
        assert response.status_code == 200, url
        assert response.json()["version"] == version
        assert response["ETag"] == etag(version)


def test_the_etag_costs_no_query(client_for, case_in, officer):
    case = case_in("in_review")
    client = client_for(officer)

    with CaptureQueriesContext(connection) as queries:
        response = client.get(case_url(case))

    assert response.status_code == 200
    assert len(queries.captured_queries) == 7


def test_the_schema_offers_no_conditional_get():
    from drf_spectacular.generators import SchemaGenerator

    schema = SchemaGenerator().get_schema(request=None, public=True)

    for path in ("/api/v1/cases/{id}/", "/api/v1/enterprises/{id}/"):
        get = schema["paths"][path]["get"]
        assert "304" not in get["responses"], path
        assert "If-None-Match" not in {parameter["name"] for parameter in get.get("parameters", [])}, path
        assert "ETag" in get["responses"]["200"]["headers"], path


# --- Changing a draft: PATCH and DELETE -----------------------------------------------------


def test_a_patch_with_the_current_etag_applies_and_returns_the_new_one(client_for, case_in, applicant):
    case = case_in("draft")

    response = client_for(applicant).patch(
        case_url(case), {"title": "Nhãn hiệu Cà phê Langbiang"}, headers={"If-Match": etag(case.version)}
    )

    assert response.status_code == 200, response.content
    assert response.json()["version"] == case.version + 1
    assert response["ETag"] == etag(case.version + 1)


def test_a_patch_with_a_stale_etag_is_412_and_changes_nothing(client_for, case_in, applicant):
    case = case_in("draft")
    client = client_for(applicant)
    stale = etag(case.version)
    assert client.patch(case_url(case), {"title": "Đổi lần một"}).status_code == 200
    events = events_of(case)

    response = client.patch(case_url(case), {"title": "Đổi lần hai"}, headers={"If-Match": stale})

    assert_stale(response, case.version + 1)
    case.refresh_from_db()
    assert (case.title, events_of(case)) == ("Đổi lần một", events)


@pytest.mark.parametrize(
    "condition",
    ['W/"{v}"', "{v}", '"{v}', "garbage", '"0"', '""'],
    ids=["weak", "unquoted", "unterminated", "garbage", "zero", "empty"],
)
def test_an_if_match_that_names_no_current_version_is_412(client_for, case_in, applicant, condition):
    case = case_in("draft")

    response = client_for(applicant).patch(
        case_url(case), {"title": "Không được đổi"}, headers={"If-Match": condition.format(v=case.version)}
    )

    assert_stale(response, case.version)
    assert version_of(case) == case.version


@pytest.mark.parametrize("condition", ["*", ' "999" , "{v}" ', '"999",W/"998","{v}"'])
def test_if_match_star_or_a_list_naming_the_version_applies(client_for, case_in, applicant, condition):
    case = case_in("draft")

    response = client_for(applicant).patch(
        case_url(case), {"title": "Đổi được"}, headers={"If-Match": condition.format(v=case.version)}
    )

    assert response.status_code == 200, response.content
    assert version_of(case) == case.version + 1


def test_without_if_match_a_change_needs_no_etag(client_for, case_in, applicant):
    case = case_in("draft")

    response = client_for(applicant).patch(case_url(case), {"title": "Không điều kiện"})

    assert response.status_code == 200


def test_a_stale_etag_is_judged_before_the_body(client_for, case_in, applicant):
    case = case_in("draft")

    response = client_for(applicant).patch(case_url(case), {"requested_amount": "many"}, headers={"If-Match": '"999"'})

    assert_stale(response, case.version)


def test_who_may_not_edit_learns_that_before_the_precondition(client_for, case_in, applicant, officer):
    case = case_in("submitted")

    response = client_for(applicant).patch(case_url(case), {"title": "Quá muộn"}, headers={"If-Match": '"999"'})

    assert assert_problem(response, 409)["code"] == "invalid_state"


def test_a_delete_with_a_stale_etag_is_412_and_the_draft_stays(client_for, case_in, applicant):
    case = case_in("draft")
    client = client_for(applicant)

    stale = client.delete(case_url(case), headers={"If-Match": etag(case.version - 1)})
    current = client.delete(case_url(case), headers={"If-Match": etag(case.version)})

    assert_stale(stale, case.version)
    assert current.status_code == 204
    assert Case.objects.get(pk=case.pk).deleted_at is not None


def test_an_unchanged_patch_still_honours_if_match(client_for, case_in, applicant):
    case = case_in("draft")

    response = client_for(applicant).patch(case_url(case), {"title": case.title}, headers={"If-Match": '"999"'})

    assert_stale(response, case.version)


# --- Actions ----------------------------------------------------------------------------------


def test_an_action_carries_the_new_etag(client_for, case_in, officer):
    case = case_in("submitted")

    response = client_for(officer).post(case_url(case, "receive/"), {}, headers={"If-Match": etag(case.version)})

    assert response.status_code == 200, response.content
    assert response["ETag"] == etag(version_of(case)) == etag(response.json()["version"])


def test_an_action_on_a_stale_copy_is_412_and_the_state_stays(client_for, case_in, officer, manager):
    case = case_in("in_review")
    stale = etag(case.version)
    assign = client_for(manager).post(case_url(case, "assign/"), {"officer": str(officer.pk)})
    assert assign.status_code == 200
    events = events_of(case)

    response = client_for(officer).post(
        case_url(case, "recommend/"),
        {"outcome": "approve", "amount": 10_000_000, "comment": "Đạt"},
        headers={"If-Match": stale},
    )

    assert_stale(response, case.version + 1)
    case.refresh_from_db()
    assert (case.state, events_of(case)) == ("in_review", events)


def test_an_action_with_the_current_etag_is_taken(client_for, case_in, applicant):
    case = case_in("draft")

    response = client_for(applicant).post(case_url(case, "submit/"), {}, headers={"If-Match": etag(case.version)})

    assert response.status_code == 200, response.content
    assert response.json()["state"] == "submitted"


def test_a_role_refusal_comes_before_the_precondition(client_for, case_in, applicant):
    case = case_in("submitted")

    response = client_for(applicant).post(case_url(case, "receive/"), {}, headers={"If-Match": '"999"'})

    assert_problem(response, 403)


def test_a_stale_action_is_judged_before_its_body(client_for, case_in, officer):
    case = case_in("in_review")

    response = client_for(officer).post(
        case_url(case, "recommend/"), {"outcome": "maybe"}, headers={"If-Match": etag(case.version - 1)}
    )

    assert_stale(response, case.version)


# --- The case's parts: costs, filing, documents, milestones -------------------------------------


def test_cost_lines_replaced_on_a_stale_copy_is_412(client_for, case_in, applicant):
    case = case_in("draft")
    client = client_for(applicant)
    body = {"cost_lines": [cost_line(amount=30_000_000, invoice_date=timezone.localdate().isoformat())]}

    stale = client.put(case_url(case, "cost-lines/"), body, format="json", headers={"If-Match": '"999"'})
    current = client.put(case_url(case, "cost-lines/"), body, format="json", headers={"If-Match": etag(case.version)})

    assert_stale(stale, case.version)
    assert current.status_code == 200, current.content
    assert current["ETag"] == etag(case.version + 1)
    assert list(CostLine.objects.filter(case=case).values_list("amount", flat=True)) == [30_000_000]


def _filing_body() -> dict[str, Any]:
    return {
        "office": "noip",
        "application_number": "4-2026-00777",
        "filed_on": timezone.localdate().isoformat(),
        "nice_classes": [30],
    }


def test_a_filing_recorded_on_a_stale_copy_is_412(client_for, case_in, applicant):
    case = case_in("submitted")
    client = client_for(applicant)

    stale = client.put(case_url(case, "filing/"), _filing_body(), format="json", headers={"If-Match": '"1"'})
    current = client.put(
        case_url(case, "filing/"), _filing_body(), format="json", headers={"If-Match": etag(case.version)}
    )

    assert_stale(stale, case.version)
    assert current.status_code == 200, current.content
    assert Filing.objects.filter(case=case).count() == 1


def test_an_upload_on_a_stale_copy_is_412_before_a_byte_is_read(client_for, case_in, applicant):
    case = case_in("draft")
    payload = CountingPayload(b"x" * 300_000)
    client = client_for(applicant)
    client.defaults["HTTP_IF_MATCH"] = etag(case.version - 1)

    response = post_counted(client, case, payload)

    assert_stale(response, case.version)
    assert payload.bytes_read == 0
    assert not Document.objects.filter(case=case).exists()


def test_an_upload_with_the_current_etag_is_stored(client_for, case_in, applicant):
    case = case_in("draft")
    file = SimpleUploadedFile("hoa-don.pdf", PDF, content_type="application/pdf")

    response = client_for(applicant).post(
        case_url(case, "documents/"),
        {"kind": "invoice", "file": file},
        format="multipart",
        headers={"If-Match": etag(case.version)},
    )

    assert response.status_code == 201, response.content
    assert response["Location"].endswith(f"/api/v1/cases/{case.pk}/documents/{response.json()['id']}/")


def test_an_ip_agent_recording_a_milestone_on_a_stale_copy_gets_412(key_client, ip_agent, case_in, applicant):
    _partner, raw = ip_agent
    case = case_in("submitted")
    case_services.filing_set(
        case=case,
        actor=applicant,
        office="noip",
        application_number="4-2026-00778",
        filed_on=timezone.localdate(),
        nice_classes=[30],
    )
    client = key_client(raw)

    def milestone(condition: str) -> Any:
        body = {
            "kind": "formality_accepted",
            "occurred_on": timezone.localdate().isoformat(),
            "evidence": SimpleUploadedFile("thong-bao.pdf", PDF, "application/pdf"),
        }
        return client.post(case_url(case, "milestones/"), body, format="multipart", headers={"If-Match": condition})

    stale = milestone(etag(case.version - 1))
    current = milestone(etag(case.version))

    assert_stale(stale, case.version)
    assert current.status_code == 201, current.content
    assert Milestone.objects.filter(case=case).count() == 1


# --- The check happens where the write happens -----------------------------------------------


def test_a_change_between_the_read_and_the_write_is_refused_not_lost(case_in, applicant):
    """The view's early check passes on what it read; the guarded update sees the newer row."""
    case = case_in("draft")
    read = Case.objects.get(pk=case.pk)
    case_services.case_update(actor=applicant, case=Case.objects.get(pk=case.pk), data={"title": "Người khác đổi"})

    with pytest.raises(PreconditionFailed) as refused:
        case_services.case_update(actor=applicant, case=read, data={"title": "Tôi đổi"}, expected_version=read.version)

    assert refused.value.data == {"current_version": read.version + 1}
    assert Case.objects.get(pk=case.pk).title == "Người khác đổi"


def test_an_upload_checks_the_version_under_the_case_lock(case_in, applicant):
    case = case_in("draft")
    read = Case.objects.get(pk=case.pk)
    case_services.case_update(actor=applicant, case=Case.objects.get(pk=case.pk), data={"title": "Đã đổi"})

    with pytest.raises(PreconditionFailed):
        case_services.document_upload(
            case=read,
            actor=applicant,
            kind="invoice",
            file=SimpleUploadedFile("hoa-don.pdf", PDF),
            name="hoa-don.pdf",
            expected_version=read.version,
        )

    assert not Document.objects.filter(case=case).exists()


def test_an_enterprise_change_checks_the_version_under_the_row_lock(enterprise, applicant):
    read = Enterprise.objects.get(pk=enterprise.pk)
    applicant_services.enterprise_update(actor=applicant, enterprise=enterprise, data={"address": "1 Hùng Vương"})

    with pytest.raises(PreconditionFailed):
        applicant_services.enterprise_update(
            actor=applicant, enterprise=read, data={"address": "2 Hùng Vương"}, expected_version=read.version
        )

    assert Enterprise.objects.get(pk=enterprise.pk).address == "1 Hùng Vương"


# --- Enterprises -----------------------------------------------------------------------------


def test_every_enterprise_write_bumps_its_version(client_for, applicant, officer, enterprise):
    assert enterprise.version == 1

    patched = client_for(applicant).patch(enterprise_url(enterprise), {"address": "5 Yersin"})
    verified = client_for(officer).post(enterprise_url(enterprise, "verify/"), {})

    assert (patched.json()["version"], patched["ETag"]) == (2, '"2"')
    assert (verified.json()["version"], verified["ETag"]) == (3, '"3"')
    assert Enterprise.objects.get(pk=enterprise.pk).version == 3


def test_a_new_enterprise_is_version_one_with_its_address(client_for, applicant):
    body = {
        "name": "Công ty TNHH Mắc ca Lâm Hà",
        "tax_code": "0100233488",
        "legal_form": "enterprise",
        "province_code": "68",
        "ward_code": "24781",
        "address": "3 Lê Lợi",
    }

    response = client_for(applicant).post("/api/v1/enterprises/", body)

    assert response.status_code == 201, response.content
    assert (response.json()["version"], response["ETag"]) == (1, '"1"')
    assert response["Location"].endswith(f"/api/v1/enterprises/{response.json()['id']}/")


def test_an_enterprise_patch_on_a_stale_copy_is_412_and_changes_nothing(client_for, applicant, officer, enterprise):
    assert client_for(officer).post(enterprise_url(enterprise, "verify/"), {}).status_code == 200

    response = client_for(applicant).patch(
        enterprise_url(enterprise), {"address": "7 Trần Hưng Đạo"}, headers={"If-Match": '"1"'}
    )

    assert_stale(response, 2)
    enterprise.refresh_from_db()
    assert (enterprise.address, enterprise.version) == ("1 Trần Phú", 2)


def test_an_enterprise_patch_with_the_current_etag_applies(client_for, applicant, enterprise):
    response = client_for(applicant).patch(
        enterprise_url(enterprise), {"address": "7 Trần Hưng Đạo"}, headers={"If-Match": '"1"'}
    )

    assert response.status_code == 200, response.content
    assert response["ETag"] == '"2"'


def test_verifying_a_stale_copy_is_412(client_for, applicant, officer, enterprise):
    assert client_for(applicant).patch(enterprise_url(enterprise), {"address": "8 Nguyễn Du"}).status_code == 200

    stale = client_for(officer).post(enterprise_url(enterprise, "verify/"), {}, headers={"If-Match": '"1"'})
    weak = client_for(officer).post(enterprise_url(enterprise, "verify/"), {}, headers={"If-Match": 'W/"2"'})

    assert_stale(stale, 2)
    assert_stale(weak, 2)
    assert Enterprise.objects.get(pk=enterprise.pk).verified_at is None


def test_an_applicant_verifying_learns_the_role_before_the_precondition(client_for, applicant, enterprise):
    response = client_for(applicant).post(enterprise_url(enterprise, "verify/"), {}, headers={"If-Match": '"9"'})

    assert_problem(response, 403)


def test_another_enterprise_is_404_whatever_the_condition(client_for, other_applicant, enterprise):
    response = client_for(other_applicant).patch(
        enterprise_url(enterprise), {"address": "x"}, headers={"If-Match": "*"}
    )

    assert_problem(response, 404)


def test_an_enterprise_patch_needs_a_token(client_for, enterprise):
    response = client_for(None).patch(enterprise_url(enterprise), {"address": "x"}, headers={"If-Match": '"1"'})

    assert_problem(response, 401)


# --- Races over real HTTP ----------------------------------------------------------------------


def _at_once(calls: list[tuple[str, str, str, dict[str, Any], dict[str, str]]]) -> list[requests.Response]:
    """(method, url, token, json body, headers) each from its own thread and connection, together."""
    barrier = threading.Barrier(len(calls))

    def call(spec: tuple[str, str, str, dict[str, Any], dict[str, str]]) -> requests.Response:
        method, url, token, body, headers = spec
        with requests.Session() as session:
            session.headers["Authorization"] = f"Bearer {token}"
            barrier.wait()
            return session.request(method, url, json=body, headers=headers, timeout=60)

    with ThreadPoolExecutor(max_workers=len(calls)) as pool:
        return list(pool.map(call, calls))


@pytest.mark.live
@pytest.mark.django_db(transaction=True)
def test_two_edits_from_the_same_copy_at_once_one_wins(live_server, case_in, applicant):
    case = case_in("draft")
    token = AuthToken.objects.create(user=applicant)[1]
    url = f"{live_server.url}{case_url(case)}"
    condition = {"If-Match": etag(case.version)}

    responses = _at_once(
        [("PATCH", url, token, {"title": title}, condition) for title in ("Bản của Lan", "Bản của Minh")]
    )

    statuses = sorted(r.status_code for r in responses)
    assert statuses in ([200, 409], [200, 412]), [r.content for r in responses]
    winner = next(r for r in responses if r.status_code == 200).json()["title"]
    assert Case.objects.get(pk=case.pk).title == winner
    assert CaseEvent.objects.filter(case=case, action="update").count() == 1


@pytest.mark.live
@pytest.mark.django_db(transaction=True)
def test_two_managers_acting_on_the_same_copy_at_once_one_wins(
    live_server, case_in, officer, officer2, manager, manager2
):
    case = case_in("in_review")
    condition = {"If-Match": etag(case.version)}
    url = f"{live_server.url}{case_url(case, 'assign/')}"
    calls = [
        ("POST", url, AuthToken.objects.create(user=who)[1], {"officer": str(to.pk)}, condition)
        for who, to in ((manager, officer2), (manager2, officer))
    ]

    responses = _at_once(calls)

    assert Counter(r.status_code for r in responses)[200] == 1, [r.content for r in responses]
    assert sorted(r.status_code for r in responses) in ([200, 409], [200, 412])
    assert CaseEvent.objects.filter(case=case, action="assign").count() == 1
