from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from applicants.models import Enterprise, Membership


class MembershipInline(admin.TabularInline):  # type: ignore[type-arg]
    model = Membership
    extra = 0
    can_delete = False
    readonly_fields = ("user", "role", "created_at")

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(Enterprise)
class EnterpriseAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    """View-only: enterprises and memberships change through applicants.services."""

    list_display = ("name", "tax_code", "legal_form", "size_class", "province_name", "verified_at")
    list_filter = ("legal_form", "size_class", "is_startup")
    search_fields = ("name", "tax_code")
    inlines = [MembershipInline]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False
