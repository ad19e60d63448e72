"""drf-spectacular extensions: the schema is the contract clients are generated from.

Besides the authentication schemes and the action view's names, this module owns what
every operation shares and no view should have to repeat:

- one `Problem` component (RFC 9457 with this API's members), referenced by every 4xx and
  5xx response as `application/problem+json`;
- the refusals that follow from how an operation is reached rather than from what it does
  (`_refusals_of`): 401 and 403 for authenticated operations, the `Idempotency-Key` answers
  of every authenticated POST, 415 for a body of the wrong type, 412 wherever `If-Match` is
  read, 400 for a bad cursor or filter on lists, 404 under an id;
- a schema view that speaks English unless `?lang=vi` is asked for, so names and
  structure never depend on the caller's `Accept-Language`.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.http import JsonResponse
from django.utils import translation
from django.utils.translation import gettext, gettext_noop
from django.utils.translation import gettext_lazy as _
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.openapi import AutoSchema
from drf_spectacular.utils import extend_schema
from drf_spectacular.views import SpectacularAPIView
from rest_framework.request import Request
from rest_framework.response import Response

from api.exceptions import PROBLEM_CONTENT_TYPE, problem
from api.webhook_events import SIGNATURE_HEADERS


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


class SchemaView(SpectacularAPIView):
    """The served schema, in English unless `?lang=vi`: component names, enum names and
    operation ids never depend on the language, and the default text does not depend on
    the caller's `Accept-Language` either, so the served document is the committed one."""

    @extend_schema(exclude=True)
    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        language = request.GET.get("lang", "en")
        if language not in dict(settings.LANGUAGES):
            # Only the languages the API speaks: any other would silently be Vietnamese
            # (the default), and each would cost a translation catalogue kept in memory.
            # JSON, whatever format the schema was asked in: a problem is JSON.
            message = _("One of: %(languages)s.") % {"languages": ", ".join(dict(settings.LANGUAGES))}
            body = problem(
                400,
                code="invalid",
                detail=message,
                instance=request.path,
                errors=[{"field": "lang", "code": "invalid_choice", "message": message}],
            )
            return JsonResponse(body, status=400, content_type=PROBLEM_CONTENT_TYPE)  # type: ignore[return-value]
        with translation.override(language):  # the parent applies ?lang= too, but not the default
            response: Response = super().get(request, *args, **kwargs)  # type: ignore[no-untyped-call]
        response["Content-Language"] = language
        return response


# --- Problem ------------------------------------------------------------------------------

PROBLEM_MEDIA_TYPE = "application/problem+json"
# The description views give a refusal that has nothing more to say than its status: the
# hook gives it the Problem body and the status's usual reason.
REFUSAL = "refusal"
PROBLEM_REF = {"$ref": "#/components/schemas/Problem"}

_STRING = {"type": "string"}
_INTEGER = {"type": "integer"}

PROBLEM_COMPONENTS: dict[str, dict[str, Any]] = {
    "ProblemFieldError": {
        "type": "object",
        "description": "One invalid field of the request.",
        "properties": {
            "field": {
                **_STRING,
                "description": "Where the error is: a field name, a dotted path (`cost_lines[0].amount`), "
                "a query or header parameter, or `non_field_errors`.",
            },
            "code": {**_STRING, "description": "A stable, untranslated code (`required`, `unknown_field`, …)."},
            "message": {**_STRING, "description": "The message in the request's language."},
        },
        "required": ["field", "code", "message"],
    },
    "ProblemCheck": {
        "type": "object",
        "description": "One eligibility condition, passed or failed (`ineligible`).",
        "properties": {"code": _STRING, "passed": {"type": "boolean"}, "reason": _STRING},
        "required": ["code", "passed", "reason"],
    },
    "ProblemMissingDocument": {
        "type": "object",
        "description": "A document kind the dossier lacks (`documents_missing`).",
        "properties": {"kind": _STRING, "stage": _STRING, "status": _STRING},
        "required": ["kind", "stage", "status"],
    },
    "Problem": {
        "type": "object",
        "description": (
            "Every 4xx and 5xx answer (RFC 9457, `application/problem+json`). `type` and `code` never "
            "change with the language; `title`, `detail` and messages are in the request's language. "
            "Members beyond the standard ones appear with the codes that carry them."
        ),
        "properties": {
            "type": {**_STRING, "description": "`urn:ipsupport:problem:<code>`."},
            "title": {**_STRING, "description": "A short summary of the status."},
            "status": {**_INTEGER, "description": "The HTTP status code."},
            "detail": {**_STRING, "description": "What went wrong with this request, for a person."},
            "code": {**_STRING, "description": "A stable, untranslated code to program against."},
            "instance": {**_STRING, "description": "The path of the request."},
            "errors": {
                "type": "array",
                "items": {"$ref": "#/components/schemas/ProblemFieldError"},
                "description": "Field errors (400): every invalid field, each with its own code.",
            },
            "available": {**_INTEGER, "description": "`budget_exceeded`: the VND still available."},
            "max_supportable_amount": {
                **_INTEGER,
                "description": "`above_supportable`: the most this case can receive, in VND.",
            },
            "limit": {
                "oneOf": [_INTEGER, _STRING],
                "description": "`too_large`: the limit in bytes; `above_supportable`: the code of the limit "
                "that binds; `too_many_drafts`: the drafts a firm may keep; `storage_quota_exceeded`: the "
                "bytes a firm's documents may take in all.",
            },
            "drafts": {**_INTEGER, "description": "`too_many_drafts`: the drafts the firm keeps now."},
            "used": {
                **_INTEGER,
                "description": "`storage_quota_exceeded`: the bytes the firm's documents take now.",
            },
            "size": {**_INTEGER, "description": "`storage_quota_exceeded`: the bytes of the file refused."},
            "checks": {
                "type": "array",
                "items": {"$ref": "#/components/schemas/ProblemCheck"},
                "description": "`ineligible`: every condition of the rule.",
            },
            "missing": {
                "oneOf": [
                    {"type": "array", "items": {"$ref": "#/components/schemas/ProblemMissingDocument"}},
                    _STRING,
                ],
                "description": "`documents_missing`: the kinds the dossier lacks; `milestone_missing`: the "
                "milestone kind the payment waits for.",
            },
            "payment_trigger": {**_STRING, "description": "`milestone_missing`: the rule's payment trigger."},
            "milestone": {**_STRING, "description": "`application_ended`: the office's last milestone."},
            "current_version": {
                **_INTEGER,
                "description": "412: the object's current version (also sent as `ETag`).",
            },
            "action": {**_STRING, "description": "`transition_not_allowed`: the action asked for."},
            "state": {**_STRING, "description": "`transition_not_allowed`: the case's state."},
            "kind": {**_STRING, "description": "`duplicate_claim`: what kind of number is claimed."},
            "number": {**_STRING, "description": "`duplicate_claim`: the number another case claims."},
            "allowed": {
                "type": "array",
                "items": _STRING,
                "description": "`unsupported_media_type`: the media types accepted (of the body, or of an "
                "uploaded file).",
            },
            "database": {**_STRING, "description": "`database_unavailable` (health): the database's status."},
        },
        "required": ["type", "title", "status", "detail", "code"],
        "additionalProperties": True,
    },
}

REASONS: dict[str, str] = {
    "400": "Invalid request: a malformed body, an invalid field, parameter or header (see `errors`).",
    "401": "No credentials, or credentials that are unknown, expired or revoked.",
    "403": "The caller may not do this (role, membership, four eyes, or a partner key's scopes).",
    "404": "No such object, or one the caller may not see.",
    "409": "Conflict with the current state (`code` says which), or a retry while the first "
    "request with the same Idempotency-Key is still running.",
    "412": "`If-Match` names another version: read again and retry (`current_version`, `ETag`).",
    "413": "The body or the file is too large (`limit`, in bytes).",
    "415": "The body's media type is not the one this operation accepts.",
    "422": "The Idempotency-Key was used before with another body.",
    "429": "Too many attempts: wait for `Retry-After` seconds.",
    "503": "The service is busy (a database lock was not had in time) or unavailable: retry after "
    "`Retry-After` seconds.",
}

WWW_AUTHENTICATE = {
    "WWW-Authenticate": {
        "schema": _STRING,
        "description": "The scheme to authenticate with (`Bearer`).",
    }
}
RETRY_AFTER = {"Retry-After": {"schema": _INTEGER, "description": "Seconds to wait before trying again."}}
CURRENT_ETAG = {"ETag": {"schema": _STRING, "description": "The current version, to send as `If-Match`."}}

IDEMPOTENCY_KEY_DESCRIPTION = gettext_noop(
    "A new key for each operation (e.g. a UUID). A retry with the same key and body gets the first "
    "response again (`Idempotent-Replayed: true`) instead of acting twice; the same key with another "
    "body is 422; while the first request runs, 409. Kept at least 24 hours."
)


def _idempotency_key_parameter() -> dict[str, Any]:
    return {
        "in": "header",
        "name": "Idempotency-Key",
        "schema": {"type": "string", "minLength": 1, "maxLength": 255, "pattern": "^[ -~]+$"},
        "description": gettext(IDEMPOTENCY_KEY_DESCRIPTION),
    }


_METHODS = ("get", "put", "post", "patch", "delete")


def _add(responses: dict[str, Any], *codes: str) -> None:
    for code in codes:
        responses.setdefault(code, {})


def _refusals_of(path: str, method: str, operation: dict[str, Any]) -> None:
    """Add the statuses an operation can answer by the way it is reached."""
    responses: dict[str, Any] = operation["responses"]
    parameters: list[dict[str, Any]] = operation.setdefault("parameters", [])
    headers = {p["name"] for p in parameters if p.get("in") == "header"}
    queries = {p["name"] for p in parameters if p.get("in") == "query"}
    if operation.get("security"):
        _add(responses, "401", "403")  # a partner key without the scope is a 403 anywhere
    if "{" in path:
        _add(responses, "404")
    if method == "post" and operation.get("security"):
        # The middleware (api/idempotency.py) keys retries by the caller: without
        # credentials (the login) there is no caller, and the header is not read.
        if "Idempotency-Key" not in headers:
            parameters.append(_idempotency_key_parameter())
        _add(responses, "400", "409", "422")
    if "requestBody" in operation:
        _add(responses, "400", "415")
    if "If-Match" in headers:
        _add(responses, "412")
    if method == "get" and queries:  # a filter, an ordering, a cursor or a page size
        _add(responses, "400")
    if method != "get":  # api/bodies.py: any body over its limit, before a byte is read
        _add(responses, "413")
    # A database lock not had in time (api/exceptions.py): 503 `busy` with Retry-After.
    _add(responses, "503")


def _as_problem(code: str, response: dict[str, Any]) -> dict[str, Any]:
    headers = dict(response.get("headers", {}))
    if code == "401":
        headers.update(WWW_AUTHENTICATE)
    elif code == "412":
        headers.update(CURRENT_ETAG)
    elif code in ("429", "503"):
        headers.update(RETRY_AFTER)
    described = response.get("description")
    problem: dict[str, Any] = {
        "description": REASONS.get(code, "") if described in (None, "", REFUSAL) else described,
        "content": {PROBLEM_MEDIA_TYPE: {"schema": PROBLEM_REF}},
    }
    if headers:
        problem["headers"] = headers
    return problem


def _titles_to_descriptions(node: Any) -> None:
    """Schema `title`s are the models' translated labels, and generators name classes
    after them (`Trạng thái`…): each becomes the description, if there is none."""
    if isinstance(node, list):
        for item in node:
            _titles_to_descriptions(item)
        return
    if not isinstance(node, dict):
        return
    title = node.pop("title", None) if isinstance(node.get("title"), str) else None
    if title is not None:
        node.setdefault("description", title)
    for key, value in node.items():
        if key == "properties" and isinstance(value, dict):  # its keys are names, not keywords
            for schema in value.values():
                _titles_to_descriptions(schema)
        else:
            _titles_to_descriptions(value)


def declare_problems(result: dict[str, Any], generator: Any, request: Any, public: bool) -> dict[str, Any]:
    """Postprocessing hook: the Problem component, the refusals implied by how each
    operation is reached, and every 4xx/5xx answer as a Problem; no schema titles."""
    for section in ("paths", "components", "webhooks"):
        _titles_to_descriptions(result.get(section, {}))
    result.setdefault("components", {}).setdefault("schemas", {}).update(PROBLEM_COMPONENTS)
    for path, item in result.get("paths", {}).items():
        for method in _METHODS:
            operation = item.get(method)
            if operation is None:
                continue
            _refusals_of(path, method, operation)
            if not operation["parameters"]:
                del operation["parameters"]
            responses = operation["responses"]
            for code in list(responses):
                if code[0] in "45":
                    responses[code] = _as_problem(code, responses[code])
            operation["responses"] = dict(sorted(responses.items()))
    for item in result.get("webhooks", {}).values():
        for operation in item.values():
            operation["parameters"] = [dict(header) for header in SIGNATURE_HEADERS]
    return result
