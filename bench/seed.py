"""Seed the benchmark database fast: bulk inserts, no services, a consistent trail.

`seed(cases=N)` creates staff, applicant firms (one owner each), a programme per calendar
year the cases span, its rules, N cases spread over the last 360 days in every state, and
each case's events (create, submit, receive, ... as its state requires; `seq` runs 1..n per
case and `version` is n, as the workflow leaves them). Fields match the state: receipt code
and submitted_at once submitted, officer and received_at once received, recommendation,
decision, payment. Receipt codes are issued in submission order per year and the reference
counters are left at the last one, so real submissions would carry on from there.

A database that already holds exactly N cases is reused as it is.
"""

from __future__ import annotations

import datetime as dt
import random
import time
import uuid
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from django.contrib.auth.hashers import make_password
from django.contrib.auth.models import Group
from django.db import DEFAULT_DB_ALIAS, connection, connections, transaction
from django.db.models import Model
from django.utils import timezone
from stdnum.vn import mst

from accounts.models import User
from accounts.roles import Role
from applicants.models import Enterprise, LegalForm, Membership, MembershipRole, SectorGroup
from applicants.sizing import size_class_for
from cases.management.commands.seed_demo import RULES  # the demo programme's rules
from cases.models import (
    Case,
    CaseEvent,
    CaseState,
    Programme,
    ReferenceCounter,
    SupportRule,
    SupportType,
    queue_key_for,
)

S = CaseState
PASSWORD = "bench-Pass-2026"
BENCH_OFFICER = "bench-officer"
PREFIX = "SHTT"
OFFICERS = 20
MANAGERS = 4
CASES_PER_ENTERPRISE = 20
SPAN_DAYS = 360
CHUNK = 5_000
AS_IS = {"CharField", "TextField", "SlugField", "BooleanField", "IntegerField", "BigIntegerField"}
AS_IS |= {"PositiveIntegerField", "PositiveSmallIntegerField"}
# Every column of a case that the plan does not set (the rest are set per case).
CASE_DEFAULTS: dict[str, Any] = {
    "reference": None,
    "recommended_amount": None,
    "approved_amount": None,
    "disbursed_amount": None,
    "recommendation": "",
    "paid_on": None,
    "payment_reference": "",
    "assigned_officer_id": None,
    "recommended_by_id": None,
    "submitted_at": None,
    "received_at": None,
    "decided_at": None,
    "deleted_at": None,
    "decided_rule": None,
    "priority": 0,
}


# Share of each final state, in percent of all cases.
STATE_WEIGHTS: dict[CaseState, int] = {
    S.DRAFT: 8,
    S.SUBMITTED: 15,
    S.IN_REVIEW: 20,
    S.AWAITING_SUPPLEMENT: 6,
    S.RECOMMENDED: 8,
    S.APPROVED: 10,
    S.DISBURSED: 17,
    S.REJECTED: 7,
    S.WITHDRAWN: 5,
    S.CANCELLED: 4,
}

# The actions after `create` that lead to each state (the workflow table's happy paths).
PATHS: dict[CaseState, tuple[str, ...]] = {
    S.DRAFT: (),
    S.SUBMITTED: ("submit",),
    S.WITHDRAWN: ("submit", "withdraw"),
    S.IN_REVIEW: ("submit", "receive"),
    S.AWAITING_SUPPLEMENT: ("submit", "receive", "request-supplement"),
    S.RECOMMENDED: ("submit", "receive", "recommend"),
    S.REJECTED: ("submit", "receive", "recommend", "reject"),
    S.APPROVED: ("submit", "receive", "recommend", "approve"),
    S.DISBURSED: ("submit", "receive", "recommend", "approve", "disburse"),
    S.CANCELLED: ("submit", "receive", "recommend", "approve", "cancel"),
}
TARGET: dict[str, CaseState] = {
    "submit": S.SUBMITTED,
    "withdraw": S.WITHDRAWN,
    "receive": S.IN_REVIEW,
    "request-supplement": S.AWAITING_SUPPLEMENT,
    "recommend": S.RECOMMENDED,
    "reject": S.REJECTED,
    "approve": S.APPROVED,
    "disburse": S.DISBURSED,
    "cancel": S.CANCELLED,
}
# Delay before each action, in seconds: (min, max).
DELAYS: dict[str, tuple[int, int]] = {
    "submit": (600, 3 * 86_400),
    "withdraw": (3_600, 10 * 86_400),
    "receive": (3_600, 5 * 86_400),
    "request-supplement": (3_600, 10 * 86_400),
    "recommend": (86_400, 15 * 86_400),
    "reject": (86_400, 10 * 86_400),
    "approve": (86_400, 10 * 86_400),
    "disburse": (86_400, 20 * 86_400),
    "cancel": (86_400, 20 * 86_400),
}
TITLES = {
    SupportType.TRADEMARK: "Đăng ký nhãn hiệu",
    SupportType.TRADEMARK_MADRID: "Đăng ký nhãn hiệu quốc tế",
    SupportType.COLLECTIVE_MARK: "Nhãn hiệu tập thể",
    SupportType.CERTIFICATION_MARK: "Nhãn hiệu chứng nhận",
    SupportType.GEOGRAPHICAL_INDICATION: "Chỉ dẫn địa lý",
    SupportType.INDUSTRIAL_DESIGN: "Kiểu dáng công nghiệp",
    SupportType.PATENT: "Sáng chế",
    SupportType.UTILITY_SOLUTION: "Giải pháp hữu ích",
    SupportType.COPYRIGHT: "Quyền tác giả",
    SupportType.IP_CONSULTING: "Tư vấn sở hữu trí tuệ",
    SupportType.CONFORMITY_ASSESSMENT: "Thử nghiệm, giám định, chứng nhận",
}


@dataclass
class Step:
    action: str
    at: dt.datetime
    from_state: str
    to_state: str
    actor_id: Any
    comment: str = ""
    data: dict[str, Any] = field(default_factory=dict)


@dataclass
class SeedInfo:
    cases: int
    events: int
    seconds: float
    reused: bool


def bench_officer() -> User:
    return User.objects.get(username=BENCH_OFFICER)


def seed(*, cases: int, rng_seed: int = 2026, log: Callable[[str], None] = print) -> SeedInfo:
    """Seed `cases` cases unless the database holds exactly that many already."""
    started = timezone.now()
    existing = Case.objects.count()
    if existing:
        if existing != cases or not User.objects.filter(username=BENCH_OFFICER).exists():
            raise SystemExit(
                f"bench: the database holds {existing} cases, not the {cases} asked for; run with --reset to reseed."
            )
        return SeedInfo(cases=existing, events=CaseEvent.objects.count(), seconds=0.0, reused=True)
    rng = random.Random(rng_seed)
    if connection.vendor == "sqlite":
        # Random UUID keys land all over the indexes: with SQLite's default 2 MB page cache
        # the inserts thrash (1.6x slower at 100,000 cases). This connection only.
        with connection.cursor() as cursor:
            cursor.execute("PRAGMA cache_size = -524288")
    with transaction.atomic():
        staff, owners = _users(enterprises=max(10, cases // CASES_PER_ENTERPRISE))
        enterprises = _enterprises(rng, owners)
        now = timezone.now()
        start = now - dt.timedelta(days=SPAN_DAYS)
        programmes = _programmes(start, now)
        events = _cases(
            rng, cases, start=start, now=now, staff=staff, enterprises=enterprises, programmes=programmes, log=log
        )
    _analyze()
    seconds = (timezone.now() - started).total_seconds()
    return SeedInfo(cases=cases, events=events, seconds=seconds, reused=False)


def _users(*, enterprises: int) -> tuple[dict[str, list[User]], list[User]]:
    password = make_password(PASSWORD)

    def user(username: str, first: str, last: str) -> User:
        return User(
            username=username,
            first_name=first,
            last_name=last,
            email=f"{username}@example.vn",
            password=password,
            language="vi",
        )

    officers = [user(BENCH_OFFICER, "Bench", "Officer")]
    officers += [user(f"officer-{n:02d}", f"Chuyên viên {n}", "Trần") for n in range(1, OFFICERS + 1)]
    managers = [user(f"manager-{n:02d}", f"Quản lý {n}", "Lê") for n in range(1, MANAGERS + 1)]
    owners = [user(f"applicant-{n:05d}", f"Chủ {n}", "Nguyễn") for n in range(1, enterprises + 1)]
    User.objects.bulk_create(officers + managers + owners, batch_size=CHUNK)
    groups = {group.name: group for group in Group.objects.all()}
    through = User.groups.through
    links = [through(user_id=u.pk, group_id=groups[Role.OFFICER].pk) for u in officers]
    links += [through(user_id=u.pk, group_id=groups[Role.MANAGER].pk) for u in managers]
    links += [through(user_id=u.pk, group_id=groups[Role.APPLICANT].pk) for u in owners]
    through.objects.bulk_create(links, batch_size=CHUNK)
    # The bench officer acts in the timed requests only; the seeded trail uses the others.
    return {"officers": officers[1:], "managers": managers}, owners


def _tax_codes() -> Iterator[str]:
    stem = 310_000_000
    while True:
        stem += 1
        code = f"{stem:09d}" + mst.calc_check_digit(f"{stem:09d}")
        if mst.is_valid(code):
            yield code


def _enterprises(rng: random.Random, owners: list[User]) -> list[Enterprise]:
    codes = _tax_codes()
    rows = []
    for n in range(1, len(owners) + 1):
        sector = rng.choice(SectorGroup.values)
        employees = rng.randint(1, 150)
        revenue = rng.randint(1, 200) * 500_000_000
        capital = rng.randint(1, 100) * 200_000_000
        rows.append(
            Enterprise(
                name=f"Công ty TNHH Thử tải {n:05d}",
                tax_code=next(codes),
                legal_form=rng.choice(LegalForm.values),
                province_code="68",
                province_name="Lâm Đồng",
                ward_code="24781",
                ward_name="Phường Xuân Hương - Đà Lạt",
                address=f"{n} Đường Trần Phú",
                founded_on=dt.date(2010, 1, 1) + dt.timedelta(days=rng.randint(0, 5000)),
                sector_group=sector,
                employees=employees,
                annual_revenue=revenue,
                capital=capital,
                size_class=size_class_for(sector_group=sector, employees=employees, revenue=revenue, capital=capital),
                is_startup=rng.random() < 0.2,
                women_owned=rng.random() < 0.3,
            )
        )
    Enterprise.objects.bulk_create(rows, batch_size=CHUNK)
    Membership.objects.bulk_create(
        [Membership(user=o, enterprise=e, role=MembershipRole.OWNER) for o, e in zip(owners, rows, strict=True)],
        batch_size=CHUNK,
    )
    for owner, enterprise in zip(owners, rows, strict=True):
        enterprise.owner = owner  # type: ignore[attr-defined]
    return rows


def _programmes(start: dt.datetime, now: dt.datetime) -> dict[int, Programme]:
    years = range(timezone.localtime(start).year, timezone.localtime(now).year + 1)
    programmes = {
        year: Programme(
            code=f"bench-{year}",
            name=f"Chương trình hỗ trợ phát triển tài sản trí tuệ {year} (thử tải)",
            year=year,
            opens_on=dt.date(year, 1, 1),
            closes_on=dt.date(year, 12, 31),
            budget_total=10**13,
            legal_basis="Dữ liệu thử tải",
            reference_prefix=PREFIX,
        )
        for year in years
    }
    Programme.objects.bulk_create(programmes.values())
    SupportRule.objects.bulk_create(
        SupportRule(programme=p, support_type=t, percent=percent, cap_amount=cap)
        for p in programmes.values()
        for t, (percent, cap) in RULES.items()
    )
    return programmes


def _cases(
    rng: random.Random,
    n: int,
    *,
    start: dt.datetime,
    now: dt.datetime,
    staff: dict[str, list[User]],
    enterprises: list[Enterprise],
    programmes: dict[int, Programme],
    log: Callable[[str], None],
) -> int:
    clock = time.monotonic()
    states, weights = list(STATE_WEIGHTS), list(STATE_WEIGHTS.values())
    span = (now - start - dt.timedelta(days=1)).total_seconds()
    plans: list[tuple[dict[str, Any], list[Step]]] = []
    for i in range(n):
        # Strictly increasing creation times, ~5 minutes apart, ending a day ago.
        created = start + dt.timedelta(seconds=span * (i + 0.5 * rng.random()) / n)
        plans.append(_plan(rng, created, now, rng.choices(states, weights)[0], staff, enterprises, programmes))

    # Receipt codes in submission order, numbered per (prefix, year) like _next_reference.
    counters: dict[int, int] = {}
    for case, steps in sorted((p for p in plans if p[0]["submitted_at"]), key=lambda p: p[0]["submitted_at"]):
        year = timezone.localtime(case["submitted_at"]).year
        counters[year] = counters.get(year, 0) + 1
        case["reference"] = f"{PREFIX}-{year}-{counters[year]:05d}"
        steps[1].data["reference"] = case["reference"]  # steps[1] is the submit event
    ReferenceCounter.objects.bulk_create(
        ReferenceCounter(prefix=PREFIX, year=year, last_value=value) for year, value in counters.items()
    )

    log(f"  planned {n:,} cases in {time.monotonic() - clock:.0f} s")
    total = 0
    for offset in range(0, n, CHUNK):
        chunk = plans[offset : offset + CHUNK]
        _insert(Case, (case for case, _steps in chunk))
        events = [
            {
                "id": uuid.uuid4(),
                "case_id": case["id"],
                "seq": seq,
                "action": step.action,
                "from_state": step.from_state,
                "to_state": step.to_state,
                "actor_id": step.actor_id,
                "at": step.at,
                "comment": step.comment,
                "data": step.data,
            }
            for case, steps in chunk
            for seq, step in enumerate(steps, start=1)
        ]
        _insert(CaseEvent, events)
        total += len(events)
        if (offset // CHUNK) % 5 == 4 or offset + CHUNK >= n:
            log(f"  inserted {min(offset + CHUNK, n):,} cases, {total:,} events ({time.monotonic() - clock:.0f} s)")
    return total


def _insert(model: type[Model], rows: Iterable[dict[str, Any]]) -> None:
    """INSERT rows (attname -> value) with executemany: the model's own columns, each value
    converted by its field as bulk_create would, without building a model instance or
    compiling SQL per row (bulk_create takes ~5x longer for the 500,000 rows here)."""
    db = connections[DEFAULT_DB_ALIAS]  # the wrapper itself, not the per-access proxy
    fields = model._meta.concrete_fields
    quote = db.ops.quote_name
    sql = (
        f"INSERT INTO {quote(model._meta.db_table)} ({', '.join(quote(f.column) for f in fields)}) "
        f"VALUES ({', '.join(['%s'] * len(fields))})"
    )
    # Text, numbers and booleans go as they are; UUIDs, dates and JSON through the field.
    columns = [(f.attname, None if f.get_internal_type() in AS_IS else f.get_db_prep_save) for f in fields]
    # A column the plan does not set takes the field's default, so a new column with a
    # default does not break the benchmark.
    defaults = {f.attname: f.get_default() for f in fields}
    params = [
        tuple(
            row.get(name, defaults[name]) if convert is None else convert(row.get(name, defaults[name]), db)
            for name, convert in columns
        )
        for row in rows
    ]
    with db.cursor() as cursor:
        cursor.executemany(sql, params)


def _plan(
    rng: random.Random,
    created: dt.datetime,
    now: dt.datetime,
    state: CaseState,
    staff: dict[str, list[User]],
    enterprises: list[Enterprise],
    programmes: dict[int, Programme],
) -> tuple[dict[str, Any], list[Step]]:
    """One case as a row (attname -> value, every column) and the steps of its trail."""
    enterprise = rng.choice(enterprises)
    owner: User = enterprise.owner  # type: ignore[attr-defined]
    support_type = rng.choice(list(RULES))
    cap = RULES[support_type][1]
    requested = rng.randint(2, 40) * cap // 20
    case: dict[str, Any] = {
        **CASE_DEFAULTS,
        "id": uuid.uuid4(),
        "enterprise_id": enterprise.pk,
        "programme_id": programmes[timezone.localtime(created).year].pk,
        "support_type": support_type,
        "title": f"{TITLES[support_type]} {rng.randint(1, 99_999):05d}",
        "details": {"note": "thử tải", "classes": sorted(rng.sample(range(1, 46), 2))},
        "state": state,
        "requested_amount": requested,
        "created_by_id": owner.pk,
        "created_at": created,
    }
    steps = [
        Step(
            "create", created, "", S.DRAFT, owner.pk, data={"support_type": support_type, "requested_amount": requested}
        )
    ]
    officer = rng.choice(staff["officers"]).pk
    manager = rng.choice(staff["managers"]).pk
    at = created
    current: str = S.DRAFT
    for action in PATHS[state]:
        low, high = DELAYS[action]
        at = min(at + dt.timedelta(seconds=rng.randint(low, high)), now)
        step = Step(action, at, current, TARGET[action], owner.pk)
        if action == "submit":
            case["submitted_at"] = at
            step.data = {"reference": None}  # set once codes are issued in submission order
        elif action == "receive":
            case["received_at"], case["assigned_officer_id"] = at, officer
            # about 20 working days: four calendar weeks (the benchmark needs plausible dates)
            due_on = timezone.localtime(at).date() + dt.timedelta(days=28)
            case["due_on"], case["due_key"] = due_on, due_on.strftime("%Y%m%d")
            step.actor_id, step.data = officer, {"assigned_officer": str(officer)}
        elif action == "request-supplement":
            step.actor_id, step.comment = officer, "Bổ sung hồ sơ."
            step.data = {"items": ["Giấy uỷ quyền", "Mẫu nhãn hiệu"]}
        elif action == "recommend":
            outcome = "reject" if state == S.REJECTED else "approve"
            amount = min(requested, cap) if outcome == "approve" else None
            case.update(recommendation=outcome, recommended_amount=amount, recommended_by_id=officer)
            step.actor_id, step.comment = officer, "Đạt." if amount else "Không đạt."
            step.data = {"outcome": outcome, "amount": amount}
        elif action in ("approve", "reject"):
            case["decided_at"] = at
            step.actor_id = manager
            if action == "approve":
                case["approved_amount"] = case["recommended_amount"]
                step.data = {"amount": case["approved_amount"]}
            else:
                step.comment = "Không đạt."
        elif action == "disburse":
            paid_on = timezone.localtime(at).date()
            reference = f"UNC-{rng.randint(1, 999_999):06d}"
            case.update(disbursed_amount=case["approved_amount"], paid_on=paid_on, payment_reference=reference)
            step.actor_id = officer
            step.data = {
                "amount": case["disbursed_amount"],
                "paid_on": paid_on.isoformat(),
                "payment_reference": reference,
            }
        elif action == "cancel":
            step.actor_id, step.comment = manager, "Huỷ."
            step.data = {"released": case["approved_amount"]}
        steps.append(step)
        current = TARGET[action]
    case["version"] = len(steps)
    case["updated_at"] = at
    if case["submitted_at"] is not None:
        case["priority"] = enterprise.priority_flags
    case["queue_key"] = queue_key_for(
        priority=case["priority"], submitted_at=case["submitted_at"], created_at=case["created_at"]
    )
    return case, steps


def _analyze() -> None:
    """Planner statistics, as autovacuum (PostgreSQL) or `PRAGMA optimize` (SQLite) would leave them."""
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
