from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class AccountsConfig(AppConfig):
    name = "accounts"
    verbose_name = _("Accounts")

    def ready(self) -> None:
        from accounts import login_throttle

        # A rate that cannot be read stops the start, not the first login.
        login_throttle.address_rate()
        login_throttle.username_rate()
