"""Reads for partner systems, scoped to who asks."""

from __future__ import annotations

import uuid

from django.core.exceptions import ValidationError as DjangoValidationError
from django.db.models import QuerySet
from django.utils.translation import gettext_lazy as _

from accounts.models import User
from accounts.roles import Role, principal_for
from applicants.models import Enterprise
from common.exceptions import NotAllowed
from partners.exceptions import KeyNotFound, PartnerNotFound
from partners.models import Authorisation, Partner, PartnerEvent, PartnerKey


def partner_list_visible_to(*, user: User) -> QuerySet[Partner]:
    """Managers see every partner; other people the active ones (to authorise one); a
    partner system only itself."""
    principal = principal_for(user)
    queryset = Partner.objects.select_related("user")
    if principal.partner is not None or principal.has(Role.PARTNER):
        return queryset.filter(user=user)
    if principal.has(Role.MANAGER):
        return queryset
    return queryset.filter(is_active=True)


def partner_get_visible(*, user: User, partner_id: uuid.UUID | str) -> Partner:
    try:
        return partner_list_visible_to(user=user).get(pk=partner_id)
    except (Partner.DoesNotExist, ValueError, DjangoValidationError):
        raise PartnerNotFound(_("No such partner system.")) from None


def require_manager_reads(*, user: User) -> None:
    if not principal_for(user).has(Role.MANAGER):
        raise NotAllowed(_("Only managers see partners' keys and history."))


def partner_keys(*, user: User, partner: Partner) -> QuerySet[PartnerKey]:
    require_manager_reads(user=user)
    return partner.keys.select_related("created_by", "revoked_by").order_by("-created_at", "id")


def partner_key_get(*, user: User, partner: Partner, key_id: uuid.UUID | str) -> PartnerKey:
    try:
        return partner_keys(user=user, partner=partner).get(pk=key_id)
    except (PartnerKey.DoesNotExist, ValueError, DjangoValidationError):
        raise KeyNotFound(_("No such key.")) from None


def partner_events(*, user: User, partner: Partner) -> QuerySet[PartnerEvent]:
    require_manager_reads(user=user)
    return partner.events.select_related("actor").order_by("at", "id")


def enterprise_authorisations(*, enterprise: Enterprise) -> QuerySet[Authorisation]:
    """The partners an enterprise authorises now (the caller has checked it may see the
    enterprise)."""
    return (
        Authorisation.objects.live()
        .filter(enterprise=enterprise)
        .select_related("partner__user", "granted_by")
        .order_by("-granted_at", "id")
    )


def authorisation_get(*, enterprise: Enterprise, partner_id: uuid.UUID | str) -> Authorisation:
    try:
        return enterprise_authorisations(enterprise=enterprise).get(partner_id=partner_id)
    except (Authorisation.DoesNotExist, ValueError, DjangoValidationError):
        raise PartnerNotFound(_("The enterprise does not authorise this partner.")) from None
