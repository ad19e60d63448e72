"""Admin building blocks shared by the domain apps."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest


class ViewOnlyAdminMixin:
    """The admin may look but not write: changes go through the services, which check
    roles and leave an audit trail."""

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False
