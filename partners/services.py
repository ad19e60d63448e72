"""Writes for partner systems: partners, their keys, and the enterprises that authorise them.

Managers register partners and issue and revoke their keys; an enterprise's owners
authorise a partner to reach its cases (and withdraw that). Each change is a PartnerEvent.
`key_authenticate` is how a request turns a presented key into the partner's grant.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import logging
import secrets
import uuid
from collections.abc import Iterable
from typing import Any

from django.conf import settings
from django.contrib.auth.models import Group
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.text import slugify
from django.utils.translation import gettext_lazy as _

from accounts.models import User
from accounts.roles import PartnerGrant, Role, principal_for
from applicants import selectors as applicant_selectors
from applicants.models import Enterprise
from common.exceptions import FieldError, NotAllowed, ValidationFailed
from partners.exceptions import AlreadyAuthorised, InvalidKey
from partners.models import Access, Authorisation, Partner, PartnerEvent, PartnerKey, Scope

logger = logging.getLogger(__name__)

KEY_MARK = "ipk_"  # every partner key starts with it, so secret scanners and logs can spot one
_PREFIX_BYTES = 6  # 12 hex characters: how a key is found, and shown in lists
_SECRET_BYTES = 32
# last_used_at is written at most this often per key, not on every request.
_LAST_USED_GRANULARITY = dt.timedelta(minutes=5)


def require_manager(*, actor: User) -> None:
    if not principal_for(actor).has(Role.MANAGER):
        raise NotAllowed(_("Only managers register partner systems and issue their keys."))


def _digest(raw: str) -> str:
    return hashlib.sha256(raw.encode()).hexdigest()


def _record(*, partner: Partner, action: str, actor: User, **data: Any) -> None:
    PartnerEvent.objects.create(partner=partner, action=action, actor=actor, data=data)


def _unique_username(name: str) -> str:
    base = slugify(name.replace("Đ", "D").replace("đ", "d"))[:40] or "partner"
    return f"partner-{base}-{secrets.token_hex(3)}"


def _validate_partner(name: str, access: str) -> list[FieldError]:
    errors = []
    if not name.strip():
        errors.append(FieldError("name", "blank", _("The name cannot be blank.")))
    if access not in Access.values:
        errors.append(FieldError("access", "invalid_choice", _("Access is “authorised” or “all”.")))
    return errors


@transaction.atomic
def partner_create(*, actor: User, name: str, access: str = Access.AUTHORISED) -> Partner:
    """Register a partner system with a user of its own (in the partner group, with no
    password: it signs in only with keys). Raises NotAllowed, ValidationFailed."""
    require_manager(actor=actor)
    errors = _validate_partner(name, access)
    if errors:
        raise ValidationFailed(errors)
    user = User(username=_unique_username(name), first_name=name.strip()[:150])
    user.set_unusable_password()
    user.save()
    group, _created = Group.objects.get_or_create(name=Role.PARTNER)
    user.groups.add(group)
    partner = Partner.objects.create(user=user, name=name.strip(), access=access, created_by=actor)
    _record(partner=partner, action="create", actor=actor, name=partner.name, access=access)
    return partner


@transaction.atomic
def partner_update(*, actor: User, partner: Partner, data: dict[str, Any]) -> Partner:
    """Change a partner's name, access or whether it is active. A deactivated partner's
    keys stop working at once and its webhooks are no longer delivered. Raises
    NotAllowed, ValidationFailed."""
    require_manager(actor=actor)
    partner = Partner.objects.select_for_update().get(pk=partner.pk)
    before = {field: getattr(partner, field) for field in ("name", "access", "is_active")}
    name = str(data.get("name", partner.name))
    access = str(data.get("access", partner.access))
    errors = _validate_partner(name, access)
    if errors:
        raise ValidationFailed(errors)
    partner.name = name.strip()
    partner.access = access
    partner.is_active = bool(data.get("is_active", partner.is_active))
    after = {field: getattr(partner, field) for field in ("name", "access", "is_active")}
    if after != before:
        partner.save()
        User.objects.filter(pk=partner.user_id).update(is_active=partner.is_active)
        _record(partner=partner, action="update", actor=actor, before=before, after=after)
    return partner


def _clean_scopes(scopes: Iterable[object]) -> list[str]:
    values = list(scopes)
    unknown = [str(scope) for scope in values if scope not in Scope.values]
    if unknown:
        raise ValidationFailed.single(
            "scopes",
            "unknown_scope",
            _("Unknown scopes: %(scopes)s. Known: %(known)s.")
            % {"scopes": ", ".join(unknown), "known": ", ".join(Scope.values)},
        )
    if not values:
        raise ValidationFailed.single("scopes", "empty", _("A key needs at least one scope."))
    return sorted({str(scope) for scope in values})


@transaction.atomic
def key_create(
    *,
    actor: User,
    partner: Partner,
    name: str,
    scopes: Iterable[object],
    expires_at: dt.datetime | None = None,
) -> tuple[PartnerKey, str]:
    """Issue a key: returns the row and the key itself, which is not kept and cannot be
    shown again. Raises NotAllowed, ValidationFailed (blank name, unknown or no scopes, an
    expiry in the past or beyond PARTNER_KEY_MAX_DAYS)."""
    require_manager(actor=actor)
    clean_scopes = _clean_scopes(scopes)
    now = timezone.now()
    longest = now + dt.timedelta(days=settings.PARTNER_KEY_MAX_DAYS)
    expiry = expires_at or now + dt.timedelta(days=settings.PARTNER_KEY_DEFAULT_DAYS)
    errors = []
    if not name.strip():
        errors.append(FieldError("name", "blank", _("The name cannot be blank.")))
    if expiry <= now:
        errors.append(FieldError("expires_at", "in_past", _("The expiry must be in the future.")))
    elif expiry > longest:
        errors.append(
            FieldError(
                "expires_at",
                "too_far",
                _("A key lives at most %(days)d days.") % {"days": settings.PARTNER_KEY_MAX_DAYS},
            )
        )
    if errors:
        raise ValidationFailed(errors)
    prefix = secrets.token_hex(_PREFIX_BYTES)
    raw = f"{KEY_MARK}{prefix}_{secrets.token_urlsafe(_SECRET_BYTES)}"
    key = PartnerKey.objects.create(
        partner=partner,
        name=name.strip(),
        prefix=prefix,
        digest=_digest(raw),
        scopes=clean_scopes,
        expires_at=expiry,
        created_by=actor,
    )
    _record(
        partner=partner,
        action="key_create",
        actor=actor,
        key=str(key.pk),
        prefix=prefix,
        scopes=clean_scopes,
        expires_at=timezone.localtime(expiry).isoformat(),
    )
    return key, raw


@transaction.atomic
def key_revoke(*, actor: User, key: PartnerKey) -> PartnerKey:
    """Revoke a key: the next request made with it is a 401. Revoking twice changes
    nothing. Raises NotAllowed."""
    require_manager(actor=actor)
    key = PartnerKey.objects.select_for_update().get(pk=key.pk)
    if key.revoked_at is None:
        key.revoked_at = timezone.now()
        key.revoked_by = actor
        key.save(update_fields=["revoked_at", "revoked_by"])
        _record(partner=key.partner, action="key_revoke", actor=actor, key=str(key.pk), prefix=key.prefix)
    return key


def key_authenticate(*, raw: str) -> PartnerKey:
    """The live key `raw` is, with its partner and user loaded; InvalidKey otherwise
    (unknown, malformed, revoked, expired, or its partner deactivated). The digest is
    compared in constant time."""
    if not raw.startswith(KEY_MARK):
        raise InvalidKey(_("Invalid API key."))
    prefix, _sep, _secret = raw[len(KEY_MARK) :].partition("_")
    key = PartnerKey.objects.select_related("partner__user").filter(prefix=prefix).first()
    if key is None or not hmac.compare_digest(key.digest, _digest(raw)):
        raise InvalidKey(_("Invalid API key."))
    now = timezone.now()
    if key.revoked_at is not None:
        raise InvalidKey(_("This API key has been revoked."))
    if key.expires_at <= now:
        raise InvalidKey(_("This API key has expired."))
    if not key.partner.is_active or not key.partner.user.is_active:
        raise InvalidKey(_("This partner system is deactivated."))
    if key.last_used_at is None or now - key.last_used_at > _LAST_USED_GRANULARITY:
        PartnerKey.objects.filter(pk=key.pk).update(last_used_at=now)
        key.last_used_at = now
    return key


def grant_for(key: PartnerKey) -> PartnerGrant:
    """What a request made with `key` may do: the key's scopes, over every enterprise or
    those that authorise the partner now."""
    partner = key.partner
    enterprise_ids: frozenset[uuid.UUID] | None = None
    if partner.access != Access.ALL:
        enterprise_ids = frozenset(
            Authorisation.objects.live().filter(partner=partner).values_list("enterprise_id", flat=True)
        )
    return PartnerGrant(
        partner_id=partner.pk, key_id=key.pk, scopes=frozenset(key.scopes), enterprise_ids=enterprise_ids
    )


def _require_owner(*, actor: User, enterprise: Enterprise, message: Any) -> None:
    if not applicant_selectors.is_owner(user=actor, enterprise=enterprise):
        raise NotAllowed(message)


@transaction.atomic
def authorisation_grant(*, actor: User, enterprise: Enterprise, partner: Partner) -> Authorisation:
    """An owner of `enterprise` lets `partner` see its cases past draft and act on them
    within the partner's scopes. Raises NotAllowed, ValidationFailed (a deactivated
    partner), AlreadyAuthorised."""
    _require_owner(
        actor=actor, enterprise=enterprise, message=_("Only an owner of the enterprise can authorise a partner.")
    )
    if not partner.is_active:
        raise ValidationFailed.single("partner", "inactive", _("This partner system is deactivated."))
    try:
        with transaction.atomic():
            authorisation = Authorisation.objects.create(partner=partner, enterprise=enterprise, granted_by=actor)
    except IntegrityError:
        raise AlreadyAuthorised(_("The enterprise already authorises this partner.")) from None
    _record(partner=partner, action="authorise", actor=actor, enterprise=str(enterprise.pk))
    return authorisation


@transaction.atomic
def authorisation_revoke(*, actor: User, authorisation: Authorisation) -> Authorisation:
    """An owner of the enterprise (or a manager) withdraws the authorisation: the partner
    no longer reaches its cases, from its next request. Raises NotAllowed."""
    if not principal_for(actor).has(Role.MANAGER):
        _require_owner(
            actor=actor,
            enterprise=authorisation.enterprise,
            message=_("Only an owner of the enterprise can withdraw an authorisation."),
        )
    authorisation = Authorisation.objects.select_for_update().get(pk=authorisation.pk)
    if authorisation.revoked_at is None:
        authorisation.revoked_at = timezone.now()
        authorisation.revoked_by = actor
        authorisation.save(update_fields=["revoked_at", "revoked_by"])
        _record(
            partner=authorisation.partner,
            action="deauthorise",
            actor=actor,
            enterprise=str(authorisation.enterprise_id),
        )
    return authorisation


def record_partner_action(*, partner_id: uuid.UUID, action: str, actor: User, **data: Any) -> None:
    """A partner-level event for something the partner itself did (its webhooks)."""
    PartnerEvent.objects.create(partner_id=partner_id, action=action, actor=actor, data=data)
