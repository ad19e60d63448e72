"""Partner systems: machine clients with scoped, expiring, hashed API keys.

A partner (the provincial one-stop portal, an IP agent, the payment side) acts through a
user of its own in the `partner` group, so every case event it causes names it as actor.
Its keys carry the scopes; its access says which enterprises' cases it reaches: all of
them, or only those whose members authorised it.
"""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from applicants.models import Enterprise
from common.models import AppendOnlyModel


class Scope(models.TextChoices):
    CASES_READ = "cases:read", _("Read cases, their events, documents and IP office steps")
    MILESTONES_WRITE = "milestones:write", _("Record IP office filings and milestones")
    PAYMENTS_WRITE = "payments:write", _("Record payments")
    WEBHOOKS = "webhooks", _("Receive webhooks and manage subscriptions")


class Access(models.TextChoices):
    AUTHORISED = "authorised", _("Cases of the enterprises that authorised it")
    ALL = "all", _("Every case past draft")


class Partner(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="partner")
    name = models.CharField(_("name"), max_length=255)
    access = models.CharField(_("access"), max_length=12, choices=Access.choices, default=Access.AUTHORISED)
    is_active = models.BooleanField(_("active"), default=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name", "id"]
        verbose_name = _("partner system")
        verbose_name_plural = _("partner systems")

    def __str__(self) -> str:
        return self.name


class PartnerKey(models.Model):
    """An API key. Only its prefix (to find it) and a SHA-256 digest of the whole key are
    kept: the key is shown once, when it is created."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    partner = models.ForeignKey(Partner, on_delete=models.CASCADE, related_name="keys")
    name = models.CharField(_("name"), max_length=100)
    prefix = models.CharField(_("prefix"), max_length=16, unique=True, editable=False)
    digest = models.CharField(max_length=64, editable=False)
    scopes = models.JSONField(_("scopes"), default=list)
    expires_at = models.DateTimeField(_("expires at"))
    revoked_at = models.DateTimeField(_("revoked at"), null=True, blank=True)
    revoked_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    last_used_at = models.DateTimeField(_("last used at"), null=True, blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "id"]
        verbose_name = _("partner key")
        verbose_name_plural = _("partner keys")

    def __str__(self) -> str:
        return f"{self.prefix}… ({self.name})"


class AuthorisationQuerySet(models.QuerySet["Authorisation"]):
    def live(self) -> AuthorisationQuerySet:
        """Granted and not withdrawn: what a partner's reach is made of."""
        return self.filter(revoked_at__isnull=True)


class Authorisation(models.Model):
    """An enterprise lets a partner (its IP agent, say) see and act on its cases."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    partner = models.ForeignKey(Partner, on_delete=models.CASCADE, related_name="authorisations")
    enterprise = models.ForeignKey(Enterprise, on_delete=models.CASCADE, related_name="partner_authorisations")
    granted_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    granted_at = models.DateTimeField(default=timezone.now)
    revoked_at = models.DateTimeField(null=True, blank=True)
    revoked_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )

    objects = AuthorisationQuerySet.as_manager()

    class Meta:
        ordering = ["-granted_at", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["partner", "enterprise"],
                condition=Q(revoked_at__isnull=True),
                name="authorisation_one_live_per_partner_enterprise",
            )
        ]
        verbose_name = _("partner authorisation")
        verbose_name_plural = _("partner authorisations")

    def __str__(self) -> str:
        return f"{self.enterprise_id} → {self.partner_id}"


class PartnerEvent(AppendOnlyModel):
    """The audit trail of a partner: its keys, authorisations and webhook subscriptions,
    with who did what (a manager, a firm's member, or the partner itself)."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    partner = models.ForeignKey(Partner, on_delete=models.PROTECT, related_name="events")
    action = models.CharField(max_length=40)
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    at = models.DateTimeField(default=timezone.now, db_index=True)
    data = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["at", "id"]
        verbose_name = _("partner event")
        verbose_name_plural = _("partner events")

    def __str__(self) -> str:
        return f"{self.partner_id} {self.action} at {self.at:%Y-%m-%d %H:%M}"
