"""JSON operations accept JSON only, uploads multipart only: any other body is a 415
problem and changes nothing, so no field a client sends is ever silently dropped."""

from __future__ import annotations

import json

import pytest

from cases.models import Case, Document
from tests.factories import cost_line
from tests.problems import assert_problem


def _create_body(enterprise, programme) -> dict[str, object]:
    return {
        "enterprise": str(enterprise.pk),
        "programme": programme.code,
        "support_type": "trademark",
        "title": "Nhãn hiệu Cà phê Lâm Đồng",
        "requested_amount": 5_000_000,
        "cost_lines": [{**cost_line(1_000_000), "invoice_date": cost_line()["invoice_date"].isoformat()}],
    }


def test_a_multipart_case_creation_is_refused_whole_not_stripped_of_its_cost_lines(
    client_for, applicant, enterprise, programme
):
    body = _create_body(enterprise, programme)
    form = {key: json.dumps(value) if isinstance(value, list) else value for key, value in body.items()}

    response = client_for(applicant).post("/api/v1/cases/", form, format="multipart")

    problem = assert_problem(response, 415)
    assert problem["code"] == "unsupported_media_type"
    assert problem["allowed"] == ["application/json"]
    assert problem["detail"] == "This operation takes a body in application/json, not multipart/form-data."
    assert not Case.objects.exists()


def test_the_same_case_as_json_keeps_every_field(client_for, applicant, enterprise, programme):
    response = client_for(applicant).post("/api/v1/cases/", _create_body(enterprise, programme), format="json")

    assert response.status_code == 201, response.content
    assert [line["amount"] for line in response.json()["cost_lines"]] == [1_000_000]


@pytest.mark.parametrize(
    ("content_type", "body"),
    [
        ("application/x-www-form-urlencoded", "username=applicant&password=demo"),
        ("multipart/form-data; boundary=b", '--b\r\nContent-Disposition: form-data; name="username"\r\n\r\nx\r\n--b--'),
        ("text/plain", '{"username": "applicant", "password": "demo"}'),
    ],
)
def test_the_login_takes_json_only(client, db, content_type, body):
    response = client.post("/api/v1/auth/token/", body, content_type=content_type)

    assert assert_problem(response, 415)["allowed"] == ["application/json"]


def test_a_body_without_a_media_type_is_told_which_to_name_in_vietnamese(client, db):
    response = client.post("/api/v1/auth/token/", "{}", content_type="", HTTP_ACCEPT_LANGUAGE="vi")

    problem = assert_problem(response, 415)
    assert problem["detail"] == "Thao tác này nhận nội dung dạng application/json, khai báo trong tiêu đề Content-Type."


def test_an_action_with_a_form_body_is_refused_and_the_case_stays(client_for, applicant, case_in):
    case = case_in("draft")

    response = client_for(applicant).post(f"/api/v1/cases/{case.pk}/submit/", {"comment": "x"}, format="multipart")

    assert_problem(response, 415)
    case.refresh_from_db()
    assert case.state == "draft"


def test_an_upload_takes_multipart_only(client_for, applicant, case_in):
    case = case_in("draft")

    response = client_for(applicant).post(
        f"/api/v1/cases/{case.pk}/documents/", {"kind": "other", "file": "JVBERi0="}, format="json"
    )

    assert assert_problem(response, 415)["allowed"] == ["multipart/form-data"]
    assert not Document.objects.filter(case=case).exists()
