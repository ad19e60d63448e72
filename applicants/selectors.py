"""Reads of enterprises, scoped to who asks."""

from __future__ import annotations

import uuid

from django.core.exceptions import ValidationError as DjangoValidationError
from django.db.models import QuerySet

from accounts.models import User
from accounts.roles import principal_for
from applicants.models import Enterprise, Membership, MembershipRole
from common.exceptions import NotFound


def enterprise_list_visible_to(*, user: User) -> QuerySet[Enterprise]:
    """Officers, managers and admins see every enterprise; applicants their own."""
    principal = principal_for(user)
    queryset = Enterprise.objects.all()
    if not principal.sees_all:
        queryset = queryset.filter(pk__in=principal.enterprise_ids)
    return queryset.order_by("name", "id")


def enterprise_get_visible(*, user: User, enterprise_id: uuid.UUID | str) -> Enterprise:
    try:
        return enterprise_list_visible_to(user=user).get(pk=enterprise_id)
    except (Enterprise.DoesNotExist, ValueError, DjangoValidationError):
        raise NotFound("enterprise") from None


def memberships_of(*, user: User) -> QuerySet[Membership]:
    return Membership.objects.filter(user=user).select_related("enterprise").order_by("enterprise__name")


def is_owner(*, user: User, enterprise: Enterprise) -> bool:
    """Owners add members and authorise partners on the enterprise's behalf."""
    return Membership.objects.filter(enterprise=enterprise, user=user, role=MembershipRole.OWNER).exists()
