from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin
from django.http import HttpRequest

from accounts.models import User
from accounts.roles import Role, principal_for
from cases import services
from cases.models import (
    BudgetEntry,
    CalendarOverride,
    Case,
    CaseEvent,
    CostLine,
    Programme,
    SupportRule,
    SupportRuleChange,
)
from common.admin import ViewOnlyAdminMixin


class SupportRuleInline(ViewOnlyAdminMixin, admin.TabularInline):  # type: ignore[type-arg]
    model = SupportRule
    extra = 0
    readonly_fields = ("support_type", "percent", "cap_amount", "enterprise_year_cap", "max_items_per_enterprise")
    fields = readonly_fields
    show_change_link = True


class SupportRuleForm(forms.ModelForm):  # type: ignore[type-arg]
    class Meta:
        model = SupportRule
        fields = services.RULE_FIELDS

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        for name in services.RULE_LIST_FIELDS:
            if name in data and data[name] in (None, ""):
                data[name] = []  # a cleared box means "any", as an empty list does
        for error in services.rule_errors(data):
            self.add_error(error.field if error.field in self.fields else None, str(error.message))
        return data


@admin.register(SupportRule)
class SupportRuleAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    """Managers edit a rule here as through the API: the same validation and service."""

    form = SupportRuleForm
    list_display = ("programme", "support_type", "percent", "cap_amount", "enterprise_year_cap", "payment_trigger")
    list_filter = ("programme", "support_type", "payment_trigger")
    list_select_related = ("programme",)
    readonly_fields = ("programme", "support_type", "updated_at")

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False  # rules are created with their programme

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return bool(request.user.is_staff)

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        user = request.user
        return isinstance(user, User) and user.is_staff and principal_for(user).has(Role.MANAGER)

    def has_module_permission(self, request: HttpRequest) -> bool:
        return bool(request.user.is_staff)

    def save_model(self, request: HttpRequest, obj: SupportRule, form: forms.ModelForm, change: bool) -> None:  # type: ignore[type-arg]
        assert isinstance(request.user, User)
        changed = {name: form.cleaned_data[name] for name in form.changed_data}
        services.rule_update(actor=request.user, rule=obj, data=changed)


@admin.register(Programme)
class ProgrammeAdmin(ViewOnlyAdminMixin, admin.ModelAdmin):  # type: ignore[type-arg]
    list_display = ("code", "name", "year", "opens_on", "closes_on", "budget_total")
    search_fields = ("code", "name")
    inlines = [SupportRuleInline]


class CaseEventInline(ViewOnlyAdminMixin, admin.TabularInline):  # type: ignore[type-arg]
    model = CaseEvent
    extra = 0
    readonly_fields = ("seq", "action", "from_state", "to_state", "actor", "at", "comment", "data")


class CostLineInline(ViewOnlyAdminMixin, admin.TabularInline):  # type: ignore[type-arg]
    model = CostLine
    extra = 0
    readonly_fields = ("position", "description", "amount", "invoice_number", "invoice_date", "payee")


@admin.register(Case)
class CaseAdmin(ViewOnlyAdminMixin, admin.ModelAdmin):  # type: ignore[type-arg]
    list_display = ("reference", "title", "enterprise", "support_type", "state", "submitted_at")
    list_filter = ("state", "support_type", "programme")
    search_fields = ("reference", "title", "enterprise__name", "enterprise__tax_code")
    list_select_related = ("enterprise",)
    inlines = [CostLineInline, CaseEventInline]


@admin.register(BudgetEntry)
class BudgetEntryAdmin(ViewOnlyAdminMixin, admin.ModelAdmin):  # type: ignore[type-arg]
    list_display = ("programme", "case", "support_type", "kind", "amount", "at")
    list_filter = ("programme", "kind", "support_type")
    list_select_related = ("programme", "case")


@admin.register(SupportRuleChange)
class SupportRuleChangeAdmin(ViewOnlyAdminMixin, admin.ModelAdmin):  # type: ignore[type-arg]
    list_display = ("programme", "support_type", "kind", "actor", "at")
    list_filter = ("programme", "kind", "support_type")
    list_select_related = ("programme", "actor")
    readonly_fields = ("programme", "support_type", "kind", "before", "after", "actor", "at")


def _is_staff_manager(request: HttpRequest) -> bool:
    user = request.user
    return isinstance(user, User) and user.is_staff and principal_for(user).has(Role.MANAGER)


@admin.register(CalendarOverride)
class CalendarOverrideAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    """Managers keep the department's calendar here as through the API (same service)."""

    list_display = ("date", "working", "note", "updated_at")
    list_filter = ("working",)
    fields = ("date", "working", "note")

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> tuple[str, ...]:
        return ("date",) if obj is not None else ()  # another date is another override

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return bool(request.user.is_staff)

    def has_module_permission(self, request: HttpRequest) -> bool:
        return bool(request.user.is_staff)

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return _is_staff_manager(request)

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return _is_staff_manager(request)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return _is_staff_manager(request)

    def save_model(self, request: HttpRequest, obj: CalendarOverride, form: forms.ModelForm, change: bool) -> None:  # type: ignore[type-arg]
        assert isinstance(request.user, User)
        saved = services.calendar_override_set(actor=request.user, date=obj.date, working=obj.working, note=obj.note)
        obj.pk = saved.pk

    def delete_model(self, request: HttpRequest, obj: CalendarOverride) -> None:
        assert isinstance(request.user, User)
        services.calendar_override_delete(actor=request.user, override=obj)
