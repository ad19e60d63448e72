from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from common.models import AppendOnlyModel


class LegalForm(models.TextChoices):
    ENTERPRISE = "enterprise", _("Enterprise")
    COOPERATIVE = "cooperative", _("Cooperative")
    HOUSEHOLD_BUSINESS = "household_business", _("Household business")


class SizeClass(models.TextChoices):
    MICRO = "micro", _("Micro")
    SMALL = "small", _("Small")
    MEDIUM = "medium", _("Medium")
    LARGE = "large", _("Large")


class SectorGroup(models.TextChoices):
    """Decree 80/2021 Art. 5 groups the size thresholds by sector."""

    AGRICULTURE_INDUSTRY_CONSTRUCTION = (
        "agriculture_industry_construction",
        _("Agriculture, forestry, fishery, industry and construction"),
    )
    TRADE_SERVICES = "trade_services", _("Trade and services")


class Enterprise(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    name = models.CharField(_("name"), max_length=255)
    tax_code = models.CharField(_("tax code"), max_length=14, unique=True)
    legal_form = models.CharField(_("legal form"), max_length=32, choices=LegalForm.choices)

    # Current two-tier divisions (since 1 July 2025); the names are a snapshot of what the
    # record said when it was written, so a later renaming does not rewrite history.
    province_code = models.CharField(_("province code"), max_length=2)
    province_name = models.CharField(_("province name"), max_length=100, editable=False)
    ward_code = models.CharField(_("ward code"), max_length=5)
    ward_name = models.CharField(_("ward name"), max_length=100, editable=False)
    address = models.CharField(_("street address"), max_length=255)
    founded_on = models.DateField(_("founded on"), null=True, blank=True)

    sector_group = models.CharField(
        _("sector group"),
        max_length=40,
        choices=SectorGroup.choices,
        default=SectorGroup.TRADE_SERVICES,
    )
    employees = models.PositiveIntegerField(_("employees paying social insurance"), default=0)
    annual_revenue = models.BigIntegerField(_("annual revenue (VND)"), default=0)
    capital = models.BigIntegerField(_("total capital (VND)"), default=0)
    size_class = models.CharField(_("size class"), max_length=10, choices=SizeClass.choices, editable=False)

    is_startup = models.BooleanField(_("declares innovative startup"), default=False)
    startup_verified_at = models.DateTimeField(_("startup verified at"), null=True, blank=True)
    startup_verified_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    verified_at = models.DateTimeField(_("verified at"), null=True, blank=True)
    verified_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )

    # Decree 80/2021 support principles: priority when dossiers arrive together.
    women_owned = models.BooleanField(_("women-owned"), default=False)
    many_female_employees = models.BooleanField(_("many female employees"), default=False)
    social_enterprise = models.BooleanField(_("social enterprise"), default=False)

    members = models.ManyToManyField(  # type: ignore[var-annotated]
        settings.AUTH_USER_MODEL, through="Membership", related_name="enterprises"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    # Bumped by every write of applicants.services: the API's ETag, checked against If-Match.
    version = models.PositiveIntegerField(default=1, editable=False)

    class Meta:
        ordering = ["name"]
        verbose_name = _("enterprise")
        verbose_name_plural = _("enterprises")

    def __str__(self) -> str:
        return f"{self.name} ({self.tax_code})"

    @property
    def priority_flags(self) -> int:
        """How many Decree 80/2021 priority criteria the enterprise meets (0-3)."""
        return int(self.women_owned) + int(self.many_female_employees) + int(self.social_enterprise)


class EnterpriseEvent(AppendOnlyModel):
    """The audit trail of an enterprise's verification: an officer verifying it, and a
    change of a verified fact clearing it (who changed what, from what). Append-only."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    enterprise = models.ForeignKey(Enterprise, on_delete=models.PROTECT, related_name="events")
    action = models.CharField(max_length=40)
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    at = models.DateTimeField(default=timezone.now, db_index=True)
    data = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["at", "id"]
        verbose_name = _("enterprise event")
        verbose_name_plural = _("enterprise events")

    def __str__(self) -> str:
        return f"{self.enterprise_id} {self.action} at {self.at:%Y-%m-%d %H:%M}"


class MembershipRole(models.TextChoices):
    OWNER = "owner", _("Owner")
    MEMBER = "member", _("Member")


class Membership(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships")
    enterprise = models.ForeignKey(Enterprise, on_delete=models.CASCADE, related_name="memberships")
    role = models.CharField(max_length=10, choices=MembershipRole.choices, default=MembershipRole.MEMBER)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["user", "enterprise"], name="membership_unique_user_enterprise")]
        verbose_name = _("membership")
        verbose_name_plural = _("memberships")

    def __str__(self) -> str:
        return f"{self.user_id} in {self.enterprise_id} ({self.role})"
