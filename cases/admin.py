from django.contrib import admin

from cases.models import BudgetEntry, Case, CaseEvent, Programme, SupportRule
from common.admin import ViewOnlyAdminMixin


class SupportRuleInline(ViewOnlyAdminMixin, admin.TabularInline):  # type: ignore[type-arg]
    model = SupportRule
    extra = 0
    readonly_fields = ("support_type", "percent", "cap_amount")


@admin.register(Programme)
class ProgrammeAdmin(ViewOnlyAdminMixin, admin.ModelAdmin):  # type: ignore[type-arg]
    list_display = ("code", "name", "year", "opens_on", "closes_on", "budget_total")
    search_fields = ("code", "name")
    inlines = [SupportRuleInline]


class CaseEventInline(ViewOnlyAdminMixin, admin.TabularInline):  # type: ignore[type-arg]
    model = CaseEvent
    extra = 0
    readonly_fields = ("seq", "action", "from_state", "to_state", "actor", "at", "comment", "data")


@admin.register(Case)
class CaseAdmin(ViewOnlyAdminMixin, admin.ModelAdmin):  # type: ignore[type-arg]
    list_display = ("reference", "title", "enterprise", "support_type", "state", "submitted_at")
    list_filter = ("state", "support_type", "programme")
    search_fields = ("reference", "title", "enterprise__name", "enterprise__tax_code")
    list_select_related = ("enterprise",)
    inlines = [CaseEventInline]


@admin.register(BudgetEntry)
class BudgetEntryAdmin(ViewOnlyAdminMixin, admin.ModelAdmin):  # type: ignore[type-arg]
    list_display = ("programme", "case", "support_type", "kind", "amount", "at")
    list_filter = ("programme", "kind", "support_type")
    list_select_related = ("programme", "case")
