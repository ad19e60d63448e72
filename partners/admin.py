"""Partners in the admin: to look, not to write. Partners, keys and authorisations are
created through the API's services, which check roles, show a key once and audit."""

from __future__ import annotations

from django.contrib import admin

from common.admin import ViewOnlyAdminMixin
from partners.models import Authorisation, Partner, PartnerEvent, PartnerKey


class PartnerKeyInline(ViewOnlyAdminMixin, admin.TabularInline):  # type: ignore[type-arg]
    model = PartnerKey
    extra = 0
    fields = ("name", "prefix", "scopes", "expires_at", "revoked_at", "last_used_at")
    readonly_fields = fields


@admin.register(Partner)
class PartnerAdmin(ViewOnlyAdminMixin, admin.ModelAdmin):  # type: ignore[type-arg]
    list_display = ("name", "access", "is_active", "user", "created_at")
    list_filter = ("access", "is_active")
    search_fields = ("name", "user__username")
    list_select_related = ("user",)
    inlines = [PartnerKeyInline]


@admin.register(PartnerKey)
class PartnerKeyAdmin(ViewOnlyAdminMixin, admin.ModelAdmin):  # type: ignore[type-arg]
    list_display = ("prefix", "name", "partner", "expires_at", "revoked_at", "last_used_at")
    list_filter = ("partner",)
    search_fields = ("prefix", "name", "partner__name")
    exclude = ("digest",)
    list_select_related = ("partner",)


@admin.register(Authorisation)
class AuthorisationAdmin(ViewOnlyAdminMixin, admin.ModelAdmin):  # type: ignore[type-arg]
    list_display = ("enterprise", "partner", "granted_by", "granted_at", "revoked_at")
    list_filter = ("partner",)
    list_select_related = ("enterprise", "partner", "granted_by")


@admin.register(PartnerEvent)
class PartnerEventAdmin(ViewOnlyAdminMixin, admin.ModelAdmin):  # type: ignore[type-arg]
    list_display = ("at", "partner", "action", "actor")
    list_filter = ("action", "partner")
    list_select_related = ("partner", "actor")
