"""Demo data for a first look: users of every role, two firms, a programme, some cases.

Idempotent: users, enterprises and the programme are matched by their natural keys and
the demo cases are created only once. Every case change goes through the services, so the
demo trail looks like a real one; but nobody is mailed about it (`notifications.silenced`):
with the console backend a first run would print hundreds of lines of demo mail.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Sequence
from typing import Any

from django.conf import settings
from django.contrib.auth.models import Group
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import transaction
from django.utils import timezone

from accounts.models import User
from accounts.roles import Role, forget_principal
from applicants import services as applicant_services
from applicants.models import Enterprise, LegalForm, SectorGroup
from cases import notifications, services
from cases.models import Case, IpOffice, MilestoneKind, Programme, SupportType

PROGRAMME_CODE = "shtt-{year}"
# A one-page PDF standing in for the office's notices in the demo.
DEMO_PDF = (
    b"%PDF-1.4\n1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj\n2 0 obj<</Type/Pages/Kids[3 0 R]/Count 1>>endobj\n"
    b"3 0 obj<</Type/Page/Parent 2 0 R/MediaBox[0 0 595 842]>>endobj\ntrailer<</Root 1 0 R>>\n%%EOF\n"
)

# Ceilings follow Circular 75/2021/TT-BTC Art. 6 and Decree 80/2021 Art. 22; the percent is
# a provincial choice. Demo values only.
CIRCULAR_75 = "Thông tư 75/2021/TT-BTC, Điều 6"
DECREE_80 = "Nghị định 80/2021/NĐ-CP, Điều 22 khoản 2"
RULE_EXTRAS: dict[str, dict[str, Any]] = {
    # Bắc Ninh 2018 style: at most 3 marks per firm, and a yearly ceiling per firm.
    SupportType.TRADEMARK: {"max_items_per_enterprise": 3, "enterprise_year_cap": 30_000_000},
    SupportType.PATENT: {"payment_trigger": "certificate_granted"},
    SupportType.UTILITY_SOLUTION: {"payment_trigger": "certificate_granted"},
    SupportType.IP_CONSULTING: {
        "startup_required": True,
        "size_classes": ["micro", "small", "medium"],
        "legal_basis": DECREE_80,
    },
}
RULES: dict[str, tuple[int, int]] = {
    SupportType.TRADEMARK: (50, 15_000_000),
    SupportType.TRADEMARK_MADRID: (50, 60_000_000),
    SupportType.COLLECTIVE_MARK: (70, 30_000_000),
    SupportType.CERTIFICATION_MARK: (70, 30_000_000),
    SupportType.GEOGRAPHICAL_INDICATION: (100, 100_000_000),
    SupportType.INDUSTRIAL_DESIGN: (50, 15_000_000),
    SupportType.PATENT: (50, 30_000_000),
    SupportType.UTILITY_SOLUTION: (50, 30_000_000),
    SupportType.COPYRIGHT: (50, 5_000_000),
    SupportType.IP_CONSULTING: (100, 30_000_000),
    SupportType.CONFORMITY_ASSESSMENT: (50, 50_000_000),
}

ENTERPRISES: dict[str, dict[str, Any]] = {
    "applicant": {
        "name": "Công ty TNHH Cà phê Langbiang",
        "tax_code": "0100233488",
        "legal_form": LegalForm.ENTERPRISE,
        "province_code": "68",
        "ward_code": "24781",
        "address": "12 Đường Trần Phú",
        "founded_on": dt.date(2022, 3, 15),
        "sector_group": SectorGroup.AGRICULTURE_INDUSTRY_CONSTRUCTION,
        "employees": 8,
        "annual_revenue": 2_500_000_000,
        "capital": 1_000_000_000,
        "is_startup": True,
        "women_owned": True,
    },
    "applicant2": {
        "name": "Hợp tác xã Rau hoa Đà Lạt",
        "tax_code": "0314409058",
        "legal_form": LegalForm.COOPERATIVE,
        "province_code": "68",
        "ward_code": "24787",
        "address": "45 Đường Hoàng Văn Thụ",
        "founded_on": dt.date(2015, 6, 1),
        "sector_group": SectorGroup.AGRICULTURE_INDUSTRY_CONSTRUCTION,
        "employees": 40,
        "annual_revenue": 30_000_000_000,
        "capital": 12_000_000_000,
    },
}

USERS = (
    ("manager", Role.MANAGER, "Lê", "Quản lý"),
    ("officer", Role.OFFICER, "Trần", "Chuyên viên"),
    ("officer2", Role.OFFICER, "Phạm", "Chuyên viên hai"),
    ("applicant", Role.APPLICANT, "Nguyễn", "Văn An"),
    ("applicant2", Role.APPLICANT, "Hoàng", "Thị Bình"),
)


class Command(BaseCommand):
    help = "Create demo users, enterprises, a programme open today and cases in several states."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--password", required=True, help="Password for every demo user.")

    @transaction.atomic
    def handle(self, *args: Any, **options: Any) -> None:
        if settings.PRODUCTION:
            raise CommandError("seed_demo resets the demo users' passwords: not on a production site.")
        # The transitions' log lines would bury the command's own output.
        logging.getLogger("cases.workflow").setLevel(logging.WARNING)
        users = {name: self._user(name, role, last, first, options["password"]) for name, role, last, first in USERS}
        enterprises = {name: self._enterprise(users[name], data) for name, data in ENTERPRISES.items()}
        programme = self._programme()
        if not Case.objects.filter(programme=programme).exists():
            with notifications.silenced():
                self._cases(users, enterprises, programme)
        self.stdout.write(self.style.SUCCESS(f"Demo data ready: programme {programme.code}."))

    def _user(self, username: str, role: Role, last: str, first: str, password: str) -> User:
        user, _created = User.objects.get_or_create(
            username=username, defaults={"first_name": first, "last_name": last, "email": f"{username}@example.vn"}
        )
        user.set_password(password)
        user.save()
        user.groups.add(Group.objects.get_or_create(name=role)[0])
        forget_principal(user)
        return user

    def _enterprise(self, owner: User, data: dict[str, Any]) -> Enterprise:
        existing = Enterprise.objects.filter(tax_code=data["tax_code"]).first()
        if existing is not None:
            return existing
        return applicant_services.enterprise_create(actor=owner, data=data)

    def _programme(self) -> Programme:
        today = timezone.localdate()
        code = PROGRAMME_CODE.format(year=today.year)
        existing = Programme.objects.filter(code=code).first()
        if existing is not None:
            return existing
        manager = User.objects.get(username="manager")
        return services.programme_create(
            actor=manager,
            data={
                "code": code,
                "name": f"Chương trình hỗ trợ phát triển tài sản trí tuệ {today.year}",
                "year": today.year,
                "opens_on": today.replace(month=1, day=1),
                "closes_on": today.replace(month=12, day=31),
                "budget_total": 2_000_000_000,
                "legal_basis": "Nghị quyết HĐND tỉnh Lâm Đồng (demo); Thông tư 75/2021/TT-BTC; Nghị định 80/2021/NĐ-CP",
            },
            rules=[
                {
                    "support_type": t,
                    "percent": percent,
                    "cap_amount": cap,
                    "legal_basis": CIRCULAR_75,
                    **RULE_EXTRAS.get(t, {}),
                }
                for t, (percent, cap) in RULES.items()
            ],
        )

    def _cases(self, users: dict[str, User], enterprises: dict[str, Enterprise], programme: Programme) -> None:
        applicant, applicant2 = users["applicant"], users["applicant2"]
        officer, manager = users["officer"], users["manager"]

        def new(owner: str, support_type: str, title: str, amount: int, cost: int) -> Case:
            return services.case_create(
                actor=users[owner],
                enterprise=enterprises[owner],
                programme=programme,
                support_type=support_type,
                title=title,
                requested_amount=amount,
                details={"mark": title},
                cost_lines=[
                    {
                        "description": "Phí dịch vụ đại diện và lệ phí nộp đơn",
                        "amount": cost,
                        "invoice_number": f"HD-{cost // 1000:06d}",
                        "invoice_date": timezone.localdate(),
                        "payee": "Công ty Luật TNHH Sở hữu trí tuệ Ánh Sáng (demo)",
                    }
                ],
            )

        new("applicant", SupportType.COPYRIGHT, "Bản quyền bộ nhận diện thương hiệu", 4_000_000, 8_000_000)

        submitted = new("applicant2", SupportType.TRADEMARK, "Nhãn hiệu Rau hoa Đà Lạt Xanh", 12_000_000, 24_000_000)
        services.case_submit(case=submitted, actor=applicant2)

        in_review = new("applicant", SupportType.TRADEMARK, "Nhãn hiệu Cà phê Langbiang", 10_000_000, 20_000_000)
        services.case_submit(case=in_review, actor=applicant)
        services.case_receive(case=in_review, actor=officer, comment="Hồ sơ đầy đủ.")

        supplement = new("applicant2", SupportType.INDUSTRIAL_DESIGN, "Kiểu dáng hộp quà hoa", 14_000_000, 28_000_000)
        services.case_submit(case=supplement, actor=applicant2)
        services.case_receive(case=supplement, actor=officer)
        services.case_request_supplement(
            case=supplement,
            actor=officer,
            items=["Bản sao Giấy chứng nhận đăng ký kinh doanh", "Hóa đơn phí nộp đơn"],
            comment="Bổ sung một lần các giấy tờ sau.",
        )

        recommended = new(
            "applicant", SupportType.TRADEMARK_MADRID, "Nhãn hiệu Langbiang tại Nhật Bản", 80_000_000, 80_000_000
        )
        services.case_submit(case=recommended, actor=applicant)
        services.case_receive(case=recommended, actor=officer)
        services.case_recommend(
            case=recommended, actor=officer, outcome="approve", amount=40_000_000, comment="Đủ điều kiện."
        )

        approved = new(
            "applicant2", SupportType.COLLECTIVE_MARK, "Nhãn hiệu tập thể Hoa Đà Lạt", 40_000_000, 40_000_000
        )
        services.case_submit(case=approved, actor=applicant2)
        services.case_receive(case=approved, actor=officer)
        services.case_recommend(case=approved, actor=officer, outcome="approve", amount=28_000_000, comment="Đạt.")
        self._office_steps(approved, applicant2, "4-2026-01234", [(MilestoneKind.FORMALITY_ACCEPTED, "")], [31, 35])
        services.case_approve(case=approved, actor=manager, comment="Đồng ý.")

        paid = new("applicant", SupportType.PATENT, "Sáng chế máy rang cà phê", 50_000_000, 50_000_000)
        services.case_submit(case=paid, actor=applicant)
        services.case_receive(case=paid, actor=officer)
        services.case_recommend(case=paid, actor=officer, outcome="approve", amount=25_000_000, comment="Đạt.")
        steps: list[tuple[str, str]] = [(MilestoneKind.FORMALITY_ACCEPTED, ""), (MilestoneKind.GRANTED, "12345")]
        self._office_steps(paid, applicant, "1-2026-00321", steps, [])
        services.case_approve(case=paid, actor=manager)
        services.case_disburse(
            case=paid, actor=officer, amount=25_000_000, paid_on=timezone.localdate(), payment_reference="UNC-0001"
        )

    def _office_steps(
        self, case: Case, member: User, number: str, steps: Sequence[tuple[str, str]], classes: list[int]
    ) -> None:
        """The filing at NOIP and the office's steps, each with a (demo) PDF as evidence."""
        today = timezone.localdate()
        services.filing_set(
            case=case,
            actor=member,
            office=IpOffice.NOIP,
            application_number=number,
            filed_on=today,
            nice_classes=classes,
        )
        for kind, certificate in steps:
            name = f"{kind}.pdf"
            services.milestone_add(
                case=case,
                actor=member,
                kind=kind,
                occurred_on=today,
                evidence=SimpleUploadedFile(name, DEMO_PDF, "application/pdf"),
                evidence_name=name,
                certificate_number=certificate,
                certificate_date=today if certificate else None,
            )
