"""Factories and one builder per case state. States are reached through the services,
so a factory-made case has the same trail as a real one."""

from __future__ import annotations

import datetime as dt
import itertools
from typing import Any

import factory
from django.contrib.auth.models import Group
from django.utils import timezone
from stdnum.vn import mst

from accounts.models import User
from accounts.roles import Role, forget_principal
from applicants.models import Enterprise, LegalForm, Membership, MembershipRole, SectorGroup
from cases import services
from cases.models import (
    IP_SUPPORT_TYPES,
    MARK_TYPES,
    Case,
    CaseState,
    IpOffice,
    MilestoneKind,
    Programme,
    SupportRule,
    SupportType,
)

PASSWORD = "correct-Horse-battery-9"
_tax_codes = itertools.count(100_000)


def valid_tax_code() -> str:
    """A fresh 10-digit tax code with a correct check digit."""
    while True:
        stem = f"{next(_tax_codes):09d}"
        code = stem + mst.calc_check_digit(stem)
        if mst.is_valid(code):  # a stem whose check digit would be 10 has no valid code
            return code


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = User
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"user{n}")
    email = factory.LazyAttribute(lambda o: f"{o.username}@example.vn")
    password = factory.PostGenerationMethodCall("set_password", PASSWORD)

    @factory.post_generation
    def roles(self, create: bool, extracted: list[str] | None, **kwargs: Any) -> None:
        # get_or_create: transactional tests flush the groups the migration made
        for name in extracted or []:
            self.groups.add(Group.objects.get_or_create(name=name)[0])
        self.save()
        forget_principal(self)


class EnterpriseFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Enterprise

    name = factory.Sequence(lambda n: f"Công ty TNHH Thử nghiệm {n}")
    tax_code = factory.LazyFunction(valid_tax_code)
    legal_form = LegalForm.ENTERPRISE
    province_code = "68"
    province_name = "Lâm Đồng"
    ward_code = "24781"
    ward_name = "Phường Xuân Hương - Đà Lạt"
    address = "1 Trần Phú"
    founded_on = dt.date(2021, 1, 1)
    sector_group = SectorGroup.TRADE_SERVICES
    employees = 5
    annual_revenue = 1_000_000_000
    capital = 500_000_000
    size_class = "micro"


def add_member(user: User, enterprise: Enterprise, role: str = MembershipRole.OWNER) -> None:
    Membership.objects.create(user=user, enterprise=enterprise, role=role)
    user.groups.add(Group.objects.get_or_create(name=Role.APPLICANT)[0])
    forget_principal(user)


class ProgrammeFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Programme
        skip_postgeneration_save = True

    code = factory.Sequence(lambda n: f"shtt-test-{n}")
    name = factory.Sequence(lambda n: f"Chương trình thử nghiệm {n}")
    year = factory.LazyFunction(lambda: timezone.localdate().year)
    opens_on = factory.LazyFunction(lambda: timezone.localdate() - dt.timedelta(days=30))
    closes_on = factory.LazyFunction(lambda: timezone.localdate() + dt.timedelta(days=300))
    budget_total = 1_000_000_000

    @factory.post_generation
    def rules(self, create: bool, extracted: list[dict[str, Any]] | None, **kwargs: Any) -> None:
        specs = extracted or [{"support_type": t, "percent": 50, "cap_amount": 30_000_000} for t in SupportType.values]
        SupportRule.objects.bulk_create([SupportRule(programme=self, **spec) for spec in specs])


def cost_line(amount: int = 40_000_000, **overrides: Any) -> dict[str, Any]:
    """One invoiced cost, dated today (inside the test programme's period)."""
    return {
        "description": "Phí dịch vụ đại diện sở hữu công nghiệp",
        "amount": amount,
        "invoice_number": "HD-0001",
        "invoice_date": timezone.localdate(),
        "payee": "Công ty Luật TNHH Đại diện SHTT",
        **overrides,
    }


PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"
_application_numbers = itertools.count(1)


def record_valid_application(case: Case, member: User) -> None:
    """The filing at NOIP and its acceptance as valid, with evidence: what the default
    payment trigger (valid_application) waits for, so an approved case can be paid."""
    from django.core.files.uploadedfile import SimpleUploadedFile

    if case.support_type not in IP_SUPPORT_TYPES:
        return
    office = IpOffice.COPYRIGHT_OFFICE if case.support_type == SupportType.COPYRIGHT else IpOffice.NOIP
    prefix = "4" if case.support_type in MARK_TYPES else "1"
    number = f"{prefix}-{timezone.localdate().year}-{next(_application_numbers):05d}"
    if office == IpOffice.COPYRIGHT_OFFICE:
        number = f"QTG-{next(_application_numbers)}"
    today = timezone.localdate()
    classes = [30] if case.support_type in MARK_TYPES else []
    services.filing_set(
        case=case, actor=member, office=office, application_number=number, filed_on=today, nice_classes=classes
    )
    services.milestone_add(
        case=case,
        actor=member,
        kind=MilestoneKind.FORMALITY_ACCEPTED,
        occurred_on=today,
        evidence=SimpleUploadedFile("thong-bao-hop-le.pdf", PDF, "application/pdf"),
        evidence_name="thong-bao-hop-le.pdf",
    )


def make_case(
    *,
    state: str = CaseState.DRAFT,
    member: User,
    enterprise: Enterprise,
    programme: Programme,
    officer: User | None = None,
    manager: User | None = None,
    support_type: str = SupportType.TRADEMARK,
    requested_amount: int = 20_000_000,
    title: str = "Nhãn hiệu thử nghiệm",
    cost_lines: list[dict[str, Any]] | None = None,
) -> Case:
    """A case walked to `state` through the real services (one trait per state).

    By default it declares one 40M VND invoice, so the test programme's 50% rule supports
    up to 20M VND (the requested amount) and the recommended 10M VND fits.
    """
    case = services.case_create(
        actor=member,
        enterprise=enterprise,
        programme=programme,
        support_type=support_type,
        title=title,
        requested_amount=requested_amount,
        details={"note": "test"},
        cost_lines=[cost_line()] if cost_lines is None else cost_lines,
    )
    if state == CaseState.DRAFT:
        return case
    services.case_submit(case=case, actor=member)
    if state == CaseState.SUBMITTED:
        return case
    if state == CaseState.WITHDRAWN:
        return services.case_withdraw(case=case, actor=member)
    assert officer is not None, "states past submitted need an officer"
    services.case_receive(case=case, actor=officer)
    if state == CaseState.IN_REVIEW:
        return case
    if state == CaseState.AWAITING_SUPPLEMENT:
        return services.case_request_supplement(case=case, actor=officer, items=["Giấy phép kinh doanh"])
    services.case_recommend(case=case, actor=officer, outcome="approve", amount=10_000_000, comment="Đạt.")
    if state == CaseState.RECOMMENDED:
        return case
    assert manager is not None, "decided states need a manager"
    if state == CaseState.REJECTED:
        return services.case_reject(case=case, actor=manager, comment="Không đạt.")
    record_valid_application(case, member)  # the filing is fixed once the case is approved
    services.case_approve(case=case, actor=manager)
    if state == CaseState.APPROVED:
        return case
    if state == CaseState.CANCELLED:
        return services.case_cancel(case=case, actor=manager, comment="Huỷ.")
    if state == CaseState.DISBURSED:
        return services.case_disburse(
            case=case, actor=officer, amount=10_000_000, paid_on=timezone.localdate(), payment_reference="UNC-1"
        )
    raise ValueError(f"unknown state {state}")


def make_partner(
    *,
    name: str = "Công ty Luật SHTT Đà Lạt",
    access: str = "authorised",
    scopes: list[str] | None = None,
    enterprises: list[Enterprise] = (),  # type: ignore[assignment]
    created_by: User | None = None,
) -> tuple[Any, str]:
    """A partner system with one live key (returned raw, as the partner holds it), whose
    reach includes `enterprises` through an owner's authorisation."""
    from partners import services as partner_services
    from partners.models import Scope

    manager = created_by or UserFactory(roles=[Role.MANAGER])
    partner = partner_services.partner_create(actor=manager, name=name, access=access)
    _key, raw = partner_services.key_create(
        actor=manager, partner=partner, name="test key", scopes=scopes if scopes is not None else list(Scope.values)
    )
    for enterprise in enterprises:
        owner = enterprise.memberships.filter(role=MembershipRole.OWNER).select_related("user").first()
        granter = owner.user if owner else UserFactory()
        if owner is None:
            add_member(granter, enterprise)
        partner_services.authorisation_grant(actor=granter, enterprise=enterprise, partner=partner)
    return partner, raw
