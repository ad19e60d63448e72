from __future__ import annotations

import uuid

from django.contrib.auth.models import AbstractUser
from django.db import models
from django.utils.translation import gettext_lazy as _


class User(AbstractUser):
    """A person or machine that signs in. Staff roles are Django groups named after `Role`."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    language = models.CharField(
        _("preferred language"),
        max_length=8,
        choices=[("vi", "Tiếng Việt"), ("en", "English")],
        default="vi",
    )

    class Meta:
        verbose_name = _("user")
        verbose_name_plural = _("users")
