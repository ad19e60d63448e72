from django.contrib import admin

from applicants.models import Enterprise, EnterpriseEvent, Membership
from common.admin import ViewOnlyAdminMixin


class MembershipInline(ViewOnlyAdminMixin, admin.TabularInline):  # type: ignore[type-arg]
    model = Membership
    extra = 0
    readonly_fields = ("user", "role", "created_at")


class EnterpriseEventInline(ViewOnlyAdminMixin, admin.TabularInline):  # type: ignore[type-arg]
    """The verification trail: who verified the record, and which change of a verified fact
    cleared it."""

    model = EnterpriseEvent
    extra = 0
    readonly_fields = ("at", "action", "actor", "data")
    ordering = ("at", "id")


@admin.register(Enterprise)
class EnterpriseAdmin(ViewOnlyAdminMixin, admin.ModelAdmin):  # type: ignore[type-arg]
    list_display = ("name", "tax_code", "legal_form", "size_class", "province_name", "verified_at")
    list_filter = ("legal_form", "size_class", "is_startup")
    search_fields = ("name", "tax_code")
    inlines = [MembershipInline, EnterpriseEventInline]
