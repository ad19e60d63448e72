"""Who a user is, as far as authorization goes.

Staff roles (officer, manager, partner) are Django groups; `applicant` means "member of at
least one enterprise" (or in the applicant group, for a firm's user who has yet to
register one); `admin` is a superuser. `principal_for` computes this once per user object
so a request pays for it once, whatever the number of rows it renders.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from django.db.models import TextChoices
from django.utils.translation import gettext_lazy as _

from accounts.models import User


class Role(TextChoices):
    APPLICANT = "applicant", _("Applicant")
    OFFICER = "officer", _("Officer")
    MANAGER = "manager", _("Manager")
    PARTNER = "partner", _("Partner system")
    ADMIN = "admin", _("Administrator")


GROUP_ROLES = (Role.APPLICANT, Role.OFFICER, Role.MANAGER, Role.PARTNER)


@dataclass(frozen=True)
class PartnerGrant:
    """What the API key in use lets a partner system do, and whose cases it reaches."""

    partner_id: uuid.UUID
    key_id: uuid.UUID
    scopes: frozenset[str]
    enterprise_ids: frozenset[uuid.UUID] | None  # None: every enterprise (the one-stop portal)

    def reaches(self, enterprise_id: uuid.UUID) -> bool:
        return self.enterprise_ids is None or enterprise_id in self.enterprise_ids


@dataclass(frozen=True)
class Principal:
    user: User
    roles: frozenset[Role]
    enterprise_ids: frozenset[uuid.UUID]
    # Set only for a partner system signed in with a key: without one a partner user may
    # do nothing (a task or a shell acting as it has no scopes).
    partner: PartnerGrant | None = None

    @property
    def is_staff_reviewer(self) -> bool:
        """Officers and managers see every submitted case."""
        return bool(self.roles & {Role.OFFICER, Role.MANAGER})

    @property
    def sees_all(self) -> bool:
        """Officers, managers and admins read every enterprise and every submitted case."""
        return self.is_staff_reviewer or Role.ADMIN in self.roles

    def has(self, role: Role) -> bool:
        return role in self.roles

    def is_member_of(self, enterprise_id: uuid.UUID) -> bool:
        return enterprise_id in self.enterprise_ids

    def may(self, scope: str) -> bool:
        """A partner's key carries `scope` (people have no scopes: their roles decide)."""
        return self.partner is not None and scope in self.partner.scopes

    def reaches(self, enterprise_id: uuid.UUID) -> bool:
        """A partner may see that enterprise's cases past draft."""
        return self.partner is not None and self.partner.reaches(enterprise_id)


_CACHE_ATTR = "_principal_cache"


def principal_for(user: User) -> Principal:
    cached = getattr(user, _CACHE_ATTR, None)
    if cached is not None:
        return cached  # type: ignore[no-any-return]
    # One query for both: a user has a handful of groups and memberships at most.
    rows = list(User.objects.filter(pk=user.pk).values_list("groups__name", "memberships__enterprise_id"))
    group_names = {group for group, _enterprise in rows if group}
    enterprise_ids = frozenset(enterprise for _group, enterprise in rows if enterprise)
    roles = {Role(name) for name in group_names if name in Role.values and name != Role.ADMIN}
    if enterprise_ids:
        roles.add(Role.APPLICANT)
    if user.is_superuser:
        roles.add(Role.ADMIN)
    principal = Principal(user=user, roles=frozenset(roles), enterprise_ids=enterprise_ids)
    setattr(user, _CACHE_ATTR, principal)
    return principal


def grant_partner(user: User, grant: PartnerGrant) -> Principal:
    """The principal of a partner's request: its user's roles plus what its key allows.
    A partner user is never a member of an enterprise, whatever its rows say."""
    principal = Principal(user=user, roles=frozenset({Role.PARTNER}), enterprise_ids=frozenset(), partner=grant)
    setattr(user, _CACHE_ATTR, principal)
    return principal


def forget_principal(user: User) -> None:
    """Drop the cached principal after a change of groups or memberships."""
    if hasattr(user, _CACHE_ATTR):
        delattr(user, _CACHE_ATTR)
