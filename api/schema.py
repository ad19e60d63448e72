"""drf-spectacular extensions for the project's own classes."""

from typing import Any

from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.openapi import AutoSchema


class BearerTokenScheme(OpenApiAuthenticationExtension):  # type: ignore[no-untyped-call]
    target_class = "api.authentication.BearerTokenAuthentication"
    name = "bearerAuth"

    def get_security_definition(self, auto_schema: Any) -> dict[str, str]:
        return {
            "type": "http",
            "scheme": "bearer",
            "description": "A token from POST /api/v1/auth/token/, sent as `Authorization: Bearer <token>`.",
        }


class PartnerKeyScheme(OpenApiAuthenticationExtension):  # type: ignore[no-untyped-call]
    target_class = "api.authentication.PartnerKeyAuthentication"
    name = "partnerKey"

    def get_security_definition(self, auto_schema: Any) -> dict[str, str]:
        return {
            "type": "http",
            "scheme": "bearer",
            "description": (
                "A partner system's API key (`ipk_…`), issued by a manager, sent as "
                "`Authorization: Bearer <key>`. It opens only the endpoints its scopes cover "
                "(see docs/partners.md)."
            ),
        }


class ActionAutoSchema(AutoSchema):
    """Per-action summary and operation id for the one view class behind every action."""

    def get_summary(self) -> str | None:
        endpoint = getattr(self.view, "endpoint", None)
        if endpoint is None:
            return super().get_summary()
        return str(endpoint.summary)

    def get_operation_id(self) -> str:
        endpoint = getattr(self.view, "endpoint", None)
        if endpoint is None:
            return str(super().get_operation_id())
        return "cases_" + str(endpoint.action).replace("-", "_")
