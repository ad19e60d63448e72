"""A client generated from the served schema drives one case from draft to payment.

The proof that the published contract is exact: the package openapi-python-client makes
from `GET /api/v1/schema/` (see conftest.py) is used unmodified, with its own functions and
models only, over real HTTP against a live server. Every body is a generated model, every
answer is parsed by the generated code, refusals included (as the `Problem` model).
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from contextlib import ExitStack
from http import HTTPStatus
from typing import Any

import httpx
import pytest
from django.utils import timezone

from tests.contract.conftest import GeneratedClient
from tests.factories import PASSWORD, PDF, ProgrammeFactory

pytestmark = [pytest.mark.live, pytest.mark.django_db(transaction=True)]

TIMEOUT = httpx.Timeout(60.0)


def _str(value: Any) -> str | None:
    """An enum member of the generated client as its value (its `__str__`), None as None."""
    return None if value is None else str(value)


def _strs(values: Any) -> list[str | None]:
    return [_str(value) for value in values]


def _ok(response: Any, status: HTTPStatus, model: type) -> Any:
    """The parsed body of an answer that must have `status`, as the generated `model`."""
    assert response.status_code == status, (response.status_code, response.content[:2000])
    assert isinstance(response.parsed, model), (type(response.parsed), response.content[:2000])
    return response.parsed


def _problem(response: Any, status: HTTPStatus, code: str, client: GeneratedClient) -> Any:
    """A refusal, parsed by the generated client as the `Problem` model."""
    assert response.status_code == status, (response.status_code, response.content[:2000])
    assert response.headers["Content-Type"].startswith("application/problem+json")
    problem_model = getattr(client.models, "Problem", None)
    assert problem_model is not None, "the generated client has no Problem model"
    problem = response.parsed
    assert isinstance(problem, problem_model), (type(problem), response.content[:2000])
    assert (problem.code, problem.status) == (code, int(status))
    assert problem.type_ == f"urn:ipsupport:problem:{code}"
    assert problem.title
    assert problem.detail
    return problem


@pytest.fixture
def sessions(generated_client: GeneratedClient, live_server) -> Iterator[Any]:  # type: ignore[no-untyped-def]
    """`sessions(user)`: an AuthenticatedClient for that persona, signed in through the
    generated `POST /auth/token/`."""
    pkg = generated_client.package
    models = generated_client.models
    with ExitStack() as stack:
        anonymous = stack.enter_context(
            pkg.Client(
                base_url=live_server.url,
                headers={"Accept-Language": "en"},
                timeout=TIMEOUT,
                raise_on_unexpected_status=True,
            )
        )

        def sign_in(user: Any) -> Any:
            response = generated_client.op("auth_token_create").sync_detailed(
                client=anonymous, body=models.TokenCreateInputRequest(username=user.username, password=PASSWORD)
            )
            token = _ok(response, HTTPStatus.OK, models.TokenOutput)
            assert token.token
            assert token.expires_at > timezone.now()
            return stack.enter_context(
                pkg.AuthenticatedClient(
                    base_url=live_server.url,
                    token=token.token,
                    headers={"Accept-Language": "en"},
                    timeout=TIMEOUT,
                    raise_on_unexpected_status=True,
                )
            )

        yield sign_in


def test_a_generated_client_takes_a_case_from_draft_to_payment(
    generated_client, sessions, applicant, enterprise, officer, officer2, manager
):  # type: ignore[no-untyped-def]
    c = generated_client
    m = c.models
    File = c.types.File
    today = timezone.localdate()
    programme = ProgrammeFactory(
        code="shtt-contract",
        budget_total=500_000_000,
        rules=[
            {
                "support_type": "trademark",
                "percent": 50,
                "cap_amount": 15_000_000,
                "payment_trigger": "valid_application",
                "documents_at_submission": ["application_form"],
            }
        ],
    )

    firm, clerk, payer, boss = (sessions(user) for user in (applicant, officer, officer2, manager))

    # Who am I: the applicant's enterprise, as the server names it.
    me = _ok(c.op("me_retrieve").sync_detailed(client=firm), HTTPStatus.OK, m.MeOutput)
    assert (me.username, _strs(me.roles)) == ("applicant", ["applicant"])
    assert [str(e.id) for e in me.enterprises] == [str(enterprise.pk)]

    # A refused draft: a zero amount is a 400 whose field error names it.
    refused = c.op("cases_create").sync_detailed(
        client=firm,
        body=m.CaseCreateInputRequest(
            enterprise=me.enterprises[0].id,
            programme=programme.code,
            support_type=m.SupportTypeEnum.TRADEMARK,
            title="Nhãn hiệu Cà phê Đồi Mây",
            requested_amount=0,
        ),
    )
    problem = _problem(refused, HTTPStatus.BAD_REQUEST, "invalid", c)
    assert [(e.field, e.code) for e in problem.errors] == [("requested_amount", "min_value")]
    assert problem.errors[0].message

    # Create, with details and one cost line: both come back.
    created = c.op("cases_create").sync_detailed(
        client=firm,
        body=m.CaseCreateInputRequest(
            enterprise=me.enterprises[0].id,
            programme=programme.code,
            support_type=m.SupportTypeEnum.TRADEMARK,
            title="Nhãn hiệu Cà phê Đồi Mây",
            requested_amount=12_000_000,
            details={"mark": "Đồi Mây", "nice_classes": [30, 43]},
            cost_lines=[
                m.CostLineInputRequest(
                    description="Phí dịch vụ đại diện và lệ phí nộp đơn nhãn hiệu",
                    amount=24_000_000,
                    invoice_number="0001527",
                    invoice_date=today,
                    payee="Công ty TNHH Đại diện sở hữu trí tuệ Lâm Viên",
                )
            ],
        ),
    )
    case = _ok(created, HTTPStatus.CREATED, m.CaseDetailOutput)
    case_id = case.id
    assert (_str(case.state), case.reference, case.requested_amount) == ("draft", None, 12_000_000)
    assert case.details == {"mark": "Đồi Mây", "nice_classes": [30, 43]}
    assert [(line.position, line.amount, line.invoice_number, line.invoice_date) for line in case.cost_lines] == [
        (1, 24_000_000, "0001527", today)
    ]
    assert (case.eligible_cost, case.max_supportable_amount) == (24_000_000, 12_000_000)
    assert _strs(case.allowed_actions) == ["submit"]

    # The application form the rule asks for at submission, uploaded as multipart.
    form = c.op("cases_documents_create").sync_detailed(
        case_id,
        client=firm,
        body=m.DocumentUploadInputRequest(
            kind=m.DocumentUploadInputKindEnum.APPLICATION_FORM,
            file=File(payload=io.BytesIO(PDF), file_name="to-khai.pdf", mime_type="application/pdf"),
            note="Tờ khai đăng ký nhãn hiệu",
        ),
    )
    form = _ok(form, HTTPStatus.CREATED, m.DocumentOutput)
    assert (_str(form.kind), form.original_name, form.media_type, form.size, form.version) == (
        "application_form",
        "to-khai.pdf",
        "application/pdf",
        len(PDF),
        1,
    )

    download = c.op("cases_documents_download_retrieve").sync_detailed(case_id, form.id, client=firm)
    assert download.headers["Content-Type"] == "application/pdf"
    assert _ok(download, HTTPStatus.OK, File).payload.read() == PDF

    checklist = _ok(
        c.op("cases_checklist_retrieve").sync_detailed(case_id, client=firm), HTTPStatus.OK, m.ChecklistOutput
    )
    assert checklist.complete_for_submission is True
    assert [(_str(i.kind), _str(i.stage), _str(i.status), i.documents) for i in checklist.items] == [
        ("application_form", "submission", "satisfied", [form.id])
    ]

    # The filing at NOIP, recorded on the draft.
    filing = c.op("cases_filing_update").sync_detailed(
        case_id,
        client=firm,
        body=m.FilingInputRequest(
            office=m.OfficeEnum.NOIP,
            application_number=f"4-{today.year}-00042",
            filed_on=today,
            nice_classes=[30, 43],
        ),
    )
    filing = _ok(filing, HTTPStatus.OK, m.FilingOutput)
    assert (_str(filing.office), filing.application_number, filing.filed_on, filing.nice_classes) == (
        "noip",
        f"4-{today.year}-00042",
        today,
        [30, 43],
    )

    def act(operation: str, who: Any, body: Any) -> Any:
        response = c.op(operation).sync_detailed(case_id, client=who, body=body)
        return _ok(response, HTTPStatus.OK, m.CaseDetailOutput)

    case = act("cases_submit", firm, m.CaseCommentInputRequest())
    assert (_str(case.state), case.reference) == ("submitted", f"SHTT-{today.year}-00001")
    assert case.submitted_at is not None

    case = act("cases_receive", clerk, m.CaseCommentInputRequest(comment="Đã nhận hồ sơ."))
    assert _str(case.state) == "in_review"
    assert case.assigned_officer.username == "officer"
    assert _strs(case.allowed_actions) == ["request-supplement", "recommend"]

    case = act(
        "cases_request_supplement",
        clerk,
        m.CaseSupplementRequestInputRequest(
            items=["power_of_attorney", "Mẫu nhãn hiệu kích thước 80 x 80 mm"],
            comment="Đề nghị bổ sung một lần các tài liệu sau.",
        ),
    )
    assert (_str(case.state), _strs(case.allowed_actions)) == ("awaiting_supplement", [])

    attorney = c.op("cases_documents_create").sync_detailed(
        case_id,
        client=firm,
        body=m.DocumentUploadInputRequest(
            kind=m.DocumentUploadInputKindEnum.POWER_OF_ATTORNEY,
            file=File(payload=io.BytesIO(PDF), file_name="giay-uy-quyen.pdf", mime_type="application/pdf"),
        ),
    )
    attorney = _ok(attorney, HTTPStatus.CREATED, m.DocumentOutput)
    checklist = _ok(
        c.op("cases_checklist_retrieve").sync_detailed(case_id, client=firm), HTTPStatus.OK, m.ChecklistOutput
    )
    assert [(_str(i.kind), _str(i.stage), _str(i.status), i.documents) for i in checklist.items] == [
        ("application_form", "submission", "satisfied", [form.id]),
        ("power_of_attorney", "supplement", "satisfied", [attorney.id]),
    ]

    case = act("cases_resubmit", firm, m.CaseCommentInputRequest(comment="Đã bổ sung."))
    assert _str(case.state) == "in_review"

    case = act(
        "cases_recommend",
        clerk,
        m.CaseRecommendInputRequest(outcome=m.OutcomeEnum.APPROVE, amount=12_000_000, comment="Đủ điều kiện."),
    )
    assert (_str(case.state), _str(case.recommendation), case.recommended_amount) == (
        "recommended",
        "approve",
        12_000_000,
    )

    # Four eyes: the manager, who did not recommend, decides.
    case = act("cases_approve", boss, m.CaseApproveInputRequest(comment="Đồng ý hỗ trợ."))
    assert (_str(case.state), case.approved_amount) == ("approved", 12_000_000)
    assert (_str(case.decided_rule.payment_trigger), case.decided_rule.supportable.amount) == (
        "valid_application",
        12_000_000,
    )

    # Payment waits for the office's acceptance: a 409 parsed as a Problem.
    payment = m.CaseDisburseInputRequest(amount=12_000_000, paid_on=today, payment_reference="UNC-2026-0420")
    early = c.op("cases_disburse").sync_detailed(case_id, client=payer, body=payment)
    problem = _problem(early, HTTPStatus.CONFLICT, "milestone_missing", c)
    assert (problem.missing, problem.payment_trigger) == ("formality_accepted", "valid_application")

    milestone = c.op("cases_milestones_create").sync_detailed(
        case_id,
        client=firm,
        body=m.MilestoneInputRequest(
            kind=m.MilestoneKindEnum.FORMALITY_ACCEPTED,
            occurred_on=today,
            evidence=File(payload=io.BytesIO(PDF), file_name="thong-bao-hop-le.pdf", mime_type="application/pdf"),
            note="Cục SHTT chấp nhận đơn hợp lệ",
        ),
    )
    milestone = _ok(milestone, HTTPStatus.CREATED, m.MilestoneOutput)
    assert (_str(milestone.kind), milestone.occurred_on, milestone.recorded_by.username) == (
        "formality_accepted",
        today,
        "applicant",
    )
    assert milestone.evidence is not None

    case = act("cases_disburse", payer, payment)
    assert (_str(case.state), case.disbursed_amount, case.paid_on, case.payment_reference) == (
        "disbursed",
        12_000_000,
        today,
        "UNC-2026-0420",
    )
    assert _strs(case.allowed_actions) == []

    # The trail: every event kind parses, the creation's included.
    events = c.op("cases_events_list").sync_detailed(case_id, client=firm, page_size=100)
    events = _ok(events, HTTPStatus.OK, m.PaginatedCaseEventOutputList)
    assert events.next_ is None
    assert [(e.seq, e.action, _str(e.from_state), _str(e.to_state), e.actor.username) for e in events.results] == [
        (1, "create", None, "draft", "applicant"),
        (2, "document_upload", "draft", "draft", "applicant"),
        (3, "filing", "draft", "draft", "applicant"),
        (4, "submit", "draft", "submitted", "applicant"),
        (5, "receive", "submitted", "in_review", "officer"),
        (6, "document_upload", "in_review", "in_review", "officer"),  # the receipt slip
        (7, "request-supplement", "in_review", "awaiting_supplement", "officer"),
        (8, "document_upload", "awaiting_supplement", "awaiting_supplement", "applicant"),
        (9, "resubmit", "awaiting_supplement", "in_review", "applicant"),
        (10, "recommend", "in_review", "recommended", "officer"),
        (11, "approve", "recommended", "approved", "manager"),
        (12, "document_upload", "approved", "approved", "applicant"),
        (13, "milestone", "approved", "approved", "applicant"),
        (14, "disburse", "approved", "disbursed", "officer2"),
    ]
    creation = events.results[0]
    assert creation.data["cost_lines"][0]["amount"] == 24_000_000
    assert creation.data["eligible_cost"] == 24_000_000

    # The programme's budget: the payment is spent, nothing left committed.
    budget = _ok(
        c.op("programmes_budget_retrieve").sync_detailed(programme.code, client=boss),
        HTTPStatus.OK,
        m.ProgrammeBudgetOutput,
    )
    assert (budget.programme, budget.total, budget.committed, budget.disbursed, budget.available) == (
        "shtt-contract",
        500_000_000,
        0,
        12_000_000,
        488_000_000,
    )
    assert [(_str(line.support_type), line.committed, line.disbursed) for line in budget.by_support_type] == [
        ("trademark", 0, 12_000_000)
    ]
