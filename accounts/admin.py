from django.contrib import admin
from django.contrib.admin.forms import AdminAuthenticationForm
from django.contrib.auth.admin import UserAdmin as BaseUserAdmin
from django.core.exceptions import ValidationError
from django.utils.translation import gettext

from accounts.login_throttle import LoginThrottled
from accounts.models import User


@admin.register(User)
class UserAdmin(BaseUserAdmin):  # type: ignore[type-arg]
    list_display = ("username", "email", "first_name", "last_name", "is_staff", "language")
    fieldsets = (*(BaseUserAdmin.fieldsets or ()), ("Preferences", {"fields": ("language",)}))


class ThrottledAdminLoginForm(AdminAuthenticationForm):
    """The admin's login form under the same throttle as the API (accounts/login_throttle.py):
    while throttled it shows the refusal and logs no one in, whatever the password."""

    def clean(self) -> dict[str, object]:
        try:
            return super().clean()
        except LoginThrottled as exc:
            # The API's 429 says the same, in the same words (the project's catalogue has them).
            wait = (
                gettext("Expected available in {wait} second.")
                if exc.retry_after == 1
                else gettext("Expected available in {wait} seconds.")
            )
            message = f"{gettext('Request was throttled.')} {wait.format(wait=exc.retry_after)}"
            raise ValidationError(message, code="throttled") from exc


admin.site.login_form = ThrottledAdminLoginForm
