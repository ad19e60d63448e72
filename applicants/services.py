"""Writes to enterprises and memberships. Every change goes through these functions."""

from __future__ import annotations

import datetime as dt
import logging
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from stdnum.exceptions import ValidationError as StdnumError
from stdnum.vn import mst

from accounts.models import User
from accounts.roles import Role, forget_principal, principal_for
from applicants import divisions, selectors
from applicants.models import Enterprise, EnterpriseEvent, LegalForm, Membership, MembershipRole
from applicants.sizing import size_class_for
from applicants.startup import young_enough
from common.exceptions import FieldError, NotAllowed, PreconditionFailed, ValidationFailed

logger = logging.getLogger(__name__)

EDITABLE_FIELDS = frozenset(
    {
        "name",
        "tax_code",
        "legal_form",
        "province_code",
        "ward_code",
        "address",
        "founded_on",
        "sector_group",
        "employees",
        "annual_revenue",
        "capital",
        "is_startup",
        "women_owned",
        "many_female_employees",
        "social_enterprise",
    }
)
# What an officer's verification confirms: the registration and the figures the size class
# comes from. A change of any clears it. The priority declarations (women_owned, ...) are
# not verified, and the startup status has a verification of its own.
VERIFIED_FACTS = (
    "name",
    "tax_code",
    "legal_form",
    "province_code",
    "ward_code",
    "address",
    "founded_on",
    "sector_group",
    "employees",
    "annual_revenue",
    "capital",
)
STARTUP_FACTS = ("is_startup", "founded_on")


def normalise_tax_code(raw: str, *, legal_form: str) -> str:
    """Return the canonical tax code or raise ValidationFailed on `tax_code`.

    Enterprises and cooperatives carry a 10-digit code (or 10 + "-" + 3 for a branch) with
    a mod-11 check digit, checked by python-stdnum. Since 1 July 2025 household businesses
    use the owner's 12-digit personal identification number, which has no check digit.
    """
    compact = raw.strip().replace(" ", "")
    if compact.isdigit() and len(compact) == 12:
        if legal_form != LegalForm.HOUSEHOLD_BUSINESS:
            raise ValidationFailed.single(
                "tax_code",
                "invalid_tax_code",
                _("A 12-digit personal identification number is accepted only for household businesses."),
            )
        return compact
    try:
        return str(mst.format(mst.validate(compact)))
    except StdnumError:
        raise ValidationFailed.single(
            "tax_code",
            "invalid_tax_code",
            _(
                "The tax code is not valid: it must have 10 digits (or 10 + '-' + 3 for a branch) "
                "with a correct check digit."
            ),
        ) from None


def _validate(enterprise: Enterprise, errors: list[FieldError]) -> None:
    province_code = divisions.normalise_province_code(enterprise.province_code)
    ward_code = divisions.normalise_ward_code(enterprise.ward_code)
    province_name = divisions.province_name(province_code)
    if province_name is None:
        errors.append(FieldError("province_code", "invalid_province", _("Unknown province code.")))
    ward = divisions.ward(ward_code)
    if ward is None:
        errors.append(FieldError("ward_code", "invalid_ward", _("Unknown ward code.")))
    elif province_name is not None and ward[1] != province_code:
        errors.append(FieldError("ward_code", "ward_not_in_province", _("The ward does not belong to the province.")))
    if province_name is not None and ward is not None:
        enterprise.province_code, enterprise.province_name = province_code, province_name
        enterprise.ward_code, enterprise.ward_name = ward_code, ward[0]
    if enterprise.founded_on and enterprise.founded_on > timezone.localdate():
        errors.append(FieldError("founded_on", "in_future", _("The founding date cannot be in the future.")))
    for field in ("employees", "annual_revenue", "capital"):
        if getattr(enterprise, field) < 0:
            errors.append(FieldError(field, "negative", _("The value cannot be negative.")))
    if not enterprise.name.strip():
        errors.append(FieldError("name", "blank", _("The name cannot be blank.")))
    if errors:
        raise ValidationFailed(errors)
    enterprise.size_class = size_class_for(
        sector_group=enterprise.sector_group,
        employees=enterprise.employees,
        revenue=enterprise.annual_revenue,
        capital=enterprise.capital,
    )


def _save_unique(enterprise: Enterprise) -> None:
    try:
        with transaction.atomic():
            enterprise.save()
    except IntegrityError:
        if Enterprise.objects.filter(tax_code=enterprise.tax_code).exclude(pk=enterprise.pk).exists():
            raise ValidationFailed.single(
                "tax_code", "duplicate_tax_code", _("An enterprise with this tax code is already registered.")
            ) from None
        raise


def _tax_code_errors(enterprise: Enterprise) -> list[FieldError]:
    try:
        enterprise.tax_code = normalise_tax_code(enterprise.tax_code, legal_form=enterprise.legal_form)
    except ValidationFailed as exc:
        return list(exc.errors)
    if Enterprise.objects.filter(tax_code=enterprise.tax_code).exclude(pk=enterprise.pk).exists():
        return [
            FieldError("tax_code", "duplicate_tax_code", _("An enterprise with this tax code is already registered."))
        ]
    return []


def require_version(*, enterprise: Enterprise, expected_version: int | None) -> None:
    """Raise PreconditionFailed unless the caller's copy (`expected_version`, from
    If-Match; None: no condition) is the version of `enterprise` as read. Views call it
    before reading the body; the services check again under the row lock."""
    if expected_version is not None and enterprise.version != expected_version:
        raise PreconditionFailed(
            _("The enterprise has changed since you read it. Read it again, then retry your change."),
            current_version=enterprise.version,
        )


def _lock(enterprise: Enterprise, expected_version: int | None) -> Enterprise:
    """The enterprise's row, locked until commit, at the version the caller expects."""
    locked = Enterprise.objects.select_for_update().get(pk=enterprise.pk)
    require_version(enterprise=locked, expected_version=expected_version)
    return locked


@transaction.atomic
def enterprise_create(*, actor: User, data: dict[str, Any]) -> Enterprise:
    """Register an enterprise; the applicant who registers it becomes its owner.

    Raises NotAllowed for staff without the applicant role, ValidationFailed for a bad tax
    code (check digit or already registered), unknown divisions or negative figures.
    """
    principal = principal_for(actor)
    if not principal.has(Role.APPLICANT):
        raise NotAllowed(_("Only applicants can register an enterprise."))
    unknown = set(data) - EDITABLE_FIELDS
    if unknown:
        raise ValueError(f"not editable: {sorted(unknown)}")
    enterprise = Enterprise(**data)
    _validate(enterprise, _tax_code_errors(enterprise))
    _save_unique(enterprise)
    Membership.objects.create(user=actor, enterprise=enterprise, role=MembershipRole.OWNER)
    forget_principal(actor)
    return enterprise


@transaction.atomic
def enterprise_update(
    *, actor: User, enterprise: Enterprise, data: dict[str, Any], expected_version: int | None = None
) -> Enterprise:
    """Change an enterprise's declared facts (members, officers and managers); bumps its
    version.

    A change of any verified fact (VERIFIED_FACTS: the registration, the address, the size
    figures) clears the verification, and a change of the startup status or founding date
    clears the startup verification, since the officer confirmed the old facts; each
    clearing is an EnterpriseEvent naming the fields changed. Raises NotAllowed,
    ValidationFailed, PreconditionFailed when `expected_version` is given and is not the
    version under the row lock.
    """
    principal = principal_for(actor)
    if not (principal.is_member_of(enterprise.pk) or principal.is_staff_reviewer):
        raise NotAllowed(_("You may not change this enterprise."))
    unknown = set(data) - EDITABLE_FIELDS
    if unknown:
        raise ValueError(f"not editable: {sorted(unknown)}")
    enterprise = _lock(enterprise, expected_version)
    before = {field: getattr(enterprise, field) for field in (*VERIFIED_FACTS, *STARTUP_FACTS)}
    for field, value in data.items():
        setattr(enterprise, field, value)
    errors = _tax_code_errors(enterprise) if {"tax_code", "legal_form"} & set(data) else []
    _validate(enterprise, errors)  # normalises codes first, so only a real change counts
    # The officer confirmed the old facts, not these.
    _clear_if_changed(enterprise, before, VERIFIED_FACTS, startup=False, actor=actor)
    _clear_if_changed(enterprise, before, STARTUP_FACTS, startup=True, actor=actor)
    enterprise.version += 1  # under the row lock
    _save_unique(enterprise)
    return enterprise


def _clear_if_changed(
    enterprise: Enterprise, before: dict[str, Any], facts: tuple[str, ...], *, startup: bool, actor: User
) -> None:
    """Clear the (startup) verification when one of `facts` changed, recording a
    `verification_cleared` (`startup_verification_cleared`) event with what changed."""
    prefix = "startup_" if startup else ""
    verified_at = getattr(enterprise, f"{prefix}verified_at")
    if verified_at is None:
        return
    changed = {
        field: {"from": _json(before[field]), "to": _json(getattr(enterprise, field))}
        for field in facts
        if getattr(enterprise, field) != before[field]
    }
    if not changed:
        return
    EnterpriseEvent.objects.create(
        enterprise=enterprise,
        action=f"{prefix}verification_cleared",
        actor=actor,
        data={
            "changed": changed,
            "verified_at": verified_at.isoformat(),
            "verified_by": str(getattr(enterprise, f"{prefix}verified_by_id")),
        },
    )
    setattr(enterprise, f"{prefix}verified_at", None)
    setattr(enterprise, f"{prefix}verified_by", None)


def _json(value: object) -> object:
    return value.isoformat() if isinstance(value, dt.date) else value


@transaction.atomic
def enterprise_verify(
    *, actor: User, enterprise: Enterprise, startup: bool = False, expected_version: int | None = None
) -> Enterprise:
    """An officer confirms the registration (and, if asked, the startup status) on file;
    bumps the enterprise's version.

    An innovative startup (Law on SME Support 2017 Art. 17) is at most five years old,
    counted in local dates. Raises NotAllowed for anyone but officers, ValidationFailed
    when the startup status cannot be confirmed, PreconditionFailed when `expected_version`
    is given and is not the version under the row lock.
    """
    principal = principal_for(actor)
    if not principal.has(Role.OFFICER):
        raise NotAllowed(_("Only officers can verify an enterprise."))
    enterprise = _lock(enterprise, expected_version)
    now = timezone.now()
    enterprise.verified_at, enterprise.verified_by = now, actor
    if startup:
        if not enterprise.is_startup:
            raise ValidationFailed.single(
                "startup", "not_declared", _("The enterprise has not declared itself an innovative startup.")
            )
        if not young_enough(enterprise.founded_on, on=timezone.localdate()):
            raise ValidationFailed.single(
                "startup",
                "too_old",
                _("An innovative startup must have been founded within the last five years."),
            )
        enterprise.startup_verified_at, enterprise.startup_verified_by = now, actor
    enterprise.version += 1  # under the row lock
    enterprise.save()
    EnterpriseEvent.objects.create(enterprise=enterprise, action="verify", actor=actor, data={"startup": startup})
    return enterprise


@transaction.atomic
def membership_add(
    *, enterprise: Enterprise, user: User, role: str = MembershipRole.MEMBER, added_by: User | None
) -> Membership:
    """Make `user` a member of `enterprise`, which gives them its cases, drafts included.

    `added_by` must be an owner of the enterprise or an admin; None is the operator at the
    server's command line. Raises NotAllowed, ValidationFailed when already a member.
    """
    if added_by is not None:
        principal = principal_for(added_by)
        if not (selectors.is_owner(user=added_by, enterprise=enterprise) or principal.has(Role.ADMIN)):
            raise NotAllowed(_("Only an owner of the enterprise can add members."))
    if Membership.objects.filter(enterprise=enterprise, user=user).exists():
        raise ValidationFailed.single("user", "already_member", _("The user is already a member of this enterprise."))
    membership = Membership.objects.create(enterprise=enterprise, user=user, role=role)
    forget_principal(user)
    logger.info("membership: %s added to %s as %s by %s", user.pk, enterprise.pk, role, getattr(added_by, "pk", "cli"))
    return membership
