from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from cases.models import Case, CaseEvent, Programme, SupportRule


class SupportRuleInline(admin.TabularInline):  # type: ignore[type-arg]
    model = SupportRule
    extra = 0
    can_delete = False
    readonly_fields = ("support_type", "percent", "cap_amount")

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(Programme)
class ProgrammeAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    """Read-only: programme changes go through cases.services (budget and rule checks)."""

    list_display = ("code", "name", "year", "opens_on", "closes_on", "budget_total")
    search_fields = ("code", "name")
    inlines = [SupportRuleInline]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class CaseEventInline(admin.TabularInline):  # type: ignore[type-arg]
    model = CaseEvent
    extra = 0
    can_delete = False
    readonly_fields = ("seq", "action", "from_state", "to_state", "actor", "at", "comment", "data")

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(Case)
class CaseAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    """Read-only: cases change only through cases.services and the workflow."""

    list_display = ("reference", "title", "enterprise", "support_type", "state", "submitted_at")
    list_filter = ("state", "support_type", "programme")
    search_fields = ("reference", "title", "enterprise__name", "enterprise__tax_code")
    list_select_related = ("enterprise",)
    inlines = [CaseEventInline]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False
