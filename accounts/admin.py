from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as BaseUserAdmin

from accounts.models import User


@admin.register(User)
class UserAdmin(BaseUserAdmin):  # type: ignore[type-arg]
    list_display = ("username", "email", "first_name", "last_name", "is_staff", "language")
    fieldsets = (*(BaseUserAdmin.fieldsets or ()), ("Preferences", {"fields": ("language",)}))
