from django.contrib import admin

from applicants.models import Enterprise, Membership


class MembershipInline(admin.TabularInline):  # type: ignore[type-arg]
    model = Membership
    extra = 0
    autocomplete_fields = ("user",)


@admin.register(Enterprise)
class EnterpriseAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    list_display = ("name", "tax_code", "legal_form", "size_class", "province_name", "verified_at")
    list_filter = ("legal_form", "size_class", "is_startup")
    search_fields = ("name", "tax_code")
    # Writes go through applicants.services; the admin is for looking.
    readonly_fields = [f.name for f in Enterprise._meta.concrete_fields]
    inlines = [MembershipInline]

    def has_add_permission(self, request: object) -> bool:
        return False
