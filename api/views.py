"""HTTP only: parse, call a service or selector, render. No business rules here."""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.contrib.auth import authenticate
from django.db import connection
from django.db.models import QuerySet
from django.http import FileResponse
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, PolymorphicProxySerializer, extend_schema
from knox.models import AuthToken
from rest_framework import serializers, status
from rest_framework.exceptions import AuthenticationFailed, Throttled
from rest_framework.generics import GenericAPIView
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.login_throttle import LoginThrottled
from accounts.models import User
from accounts.roles import principal_for
from api import pagination
from api import serializers as s
from api.exceptions import PROBLEM_CONTENT_TYPE, etag_for, problem
from api.filters import FilterSetBackend, StrictOrderingFilter
from api.permissions import answers_partners_with_a_receipt, reads_cases
from api.schema import REFUSAL, ActionAutoSchema
from api.uploads import DocumentUploadParser, SizeLimitUploadHandler
from applicants import selectors as applicant_selectors
from applicants import services as applicant_services
from applicants.models import Enterprise
from cases import selectors as case_selectors
from cases import services as case_services
from cases.exceptions import DocumentNotFound
from cases.files import ALLOWED as ALLOWED_MEDIA_TYPES
from cases.files import download_name
from cases.filters import CaseFilter
from cases.models import CalendarOverride, Case, CaseEvent, Document, Milestone, SupportRuleChange
from cases.workflow import authorize, require_version
from common.exceptions import NotFound, ValidationFailed
from partners.models import PartnerKey

# A refusal: api.schema.declare_problems gives it the Problem body and the status's reason.
PROBLEM = OpenApiResponse(description=REFUSAL)
logger = logging.getLogger(__name__)
P400 = {400: PROBLEM}
P401 = {401: PROBLEM}
P403 = {403: PROBLEM}
P404 = {404: PROBLEM}
P409 = {409: PROBLEM}
P412 = {412: PROBLEM}
# Every POST takes an Idempotency-Key and may get its 400/409/422: api.schema declares them.
IF_MATCH = OpenApiParameter(
    "If-Match",
    OpenApiTypes.STR,
    OpenApiParameter.HEADER,
    description=_(
        'The `ETag` you read (e.g. `"7"`), or `*`: the change applies only to that version, otherwise 412. '
        "Send it whenever your change depends on what you read."
    ),
)
ETAG = OpenApiParameter(
    "ETag",
    OpenApiTypes.STR,
    OpenApiParameter.HEADER,
    response=[200, 201],
    description=_('The version of the case or enterprise, as a strong entity tag (`"7"`).'),
)
LOCATION = OpenApiParameter(
    "Location",
    OpenApiTypes.URI,
    OpenApiParameter.HEADER,
    response=[201],
    description=_("The address of what was created."),
)


def _user(request: Request) -> User:
    user = request.user
    assert isinstance(user, User)  # guaranteed by IsAuthenticated
    return user


# --- Conditional requests ---------------------------------------------------------------
# A case's and an enterprise's ETag is their version number, which every write bumps. It is
# already loaded with the object, so sending and checking it costs no query. It serves
# If-Match only: the body also holds what the version does not track (the caller's
# allowed_actions, day counts that move with the date), so there is no If-None-Match/304,
# and the answer is marked for its caller alone.

_ENTITY_TAG = re.compile(r'[ \t,]*(W/)?"([\x21\x23-\x7e\x80-\xff]*)"[ \t]*(?:,|\Z)')
NO_VERSION = 0  # versions start at 1: what an If-Match that names no version expects


def _entity_tags(value: str) -> list[tuple[bool, str]] | None:
    """An If-Match list as (weak, opaque tag) pairs; None when malformed."""
    tags: list[tuple[bool, str]] = []
    position = 0
    while value[position:].strip(" \t,"):
        match = _ENTITY_TAG.match(value, position)
        if match is None:
            return None
        tags.append((match.group(1) is not None, match.group(2)))
        position = match.end()
    return tags


def _expected_version(request: Request, current: int) -> int | None:
    """The version the If-Match header lets a change apply to, for the service to check.

    None without the header or with `*` (the object exists: any version). `current` when
    one of its tags names it, under strong comparison. Otherwise NO_VERSION, which nothing
    matches: a stale tag, a weak one (never equal under strong comparison) or a malformed
    header all make the change fail with 412.
    """
    value = request.headers.get("If-Match")
    if value is None or value.strip() == "*":
        return None
    strong = {tag for weak, tag in _entity_tags(value) or [] if not weak}
    return current if str(current) in strong else NO_VERSION


def _versioned(data: dict[str, Any], *, code: int = 200, location: str | None = None) -> Response:
    """A case or an enterprise as output, with its version as the ETag. The body depends on
    who asks, so no shared cache may keep it or hand it to another token (DRF and
    LocaleMiddleware add their own Vary fields to this one)."""
    headers = {"ETag": etag_for(data["version"]), "Cache-Control": "private", "Vary": "Authorization"}
    if location is not None:
        headers["Location"] = location
    return Response(data, status=code, headers=headers)


def _location(request: Request, name: str, **kwargs: object) -> str:
    return request.build_absolute_uri(reverse(f"api:{name}", kwargs=kwargs))


# --- Auth and identity ------------------------------------------------------------------


class TokenCreateView(APIView):
    authentication_classes: list[type] = []
    permission_classes = [AllowAny]
    # Throttled by the authentication backend (accounts/login_throttle.py), with the admin.
    throttle_classes: list[type] = []

    def get_authenticate_header(self, request: Request) -> str:
        # Wrong credentials are a 401 like any other, with the scheme to use afterwards
        # (without it, DRF would turn the 401 into a 403).
        return "Bearer"  # as every other 401 of the API says

    @extend_schema(
        tags=["auth"],
        request=s.TokenCreateInput,
        responses={200: s.TokenOutput, **P400, **P401, 429: PROBLEM},
        auth=[],
        summary="Exchange a username and password for a bearer token",
    )
    def post(self, request: Request) -> Response:
        data = s.TokenCreateInput(data=request.data)
        data.is_valid(raise_exception=True)
        try:
            user = authenticate(
                request._request, username=data.validated_data["username"], password=data.validated_data["password"]
            )
        except LoginThrottled as exc:
            raise Throttled(wait=exc.retry_after) from exc
        if user is None or not user.is_active:
            raise AuthenticationFailed(_("The username or password is incorrect."), code="invalid_credentials")
        # Expired tokens are swept here, not on every authenticated request.
        AuthToken.objects.filter(user=user, expiry__lt=timezone.now()).delete()
        instance, token = AuthToken.objects.create(user=user)
        return Response(s.TokenOutput({"token": token, "expires_at": instance.expiry}).data)


class LogoutView(APIView):
    @extend_schema(
        tags=["auth"],
        request=None,
        responses={204: None, **P401},
        summary="Revoke the token in use",
    )
    def post(self, request: Request) -> Response:
        if isinstance(request.auth, AuthToken):
            request.auth.delete()
        return Response(status=status.HTTP_204_NO_CONTENT)


class MeView(APIView):
    @extend_schema(tags=["auth"], responses={200: s.MeOutput, **P401}, summary="Who am I")
    def get(self, request: Request) -> Response:
        user = _user(request)
        principal = principal_for(user)
        payload = {
            "id": user.pk,
            "username": user.username,
            "first_name": user.first_name,
            "last_name": user.last_name,
            "email": user.email,
            "language": user.language,
            "roles": sorted(principal.roles),
            "enterprises": applicant_selectors.memberships_of(user=user),
            "partner": None,
        }
        if principal.partner is not None and isinstance(request.auth, PartnerKey):
            key = request.auth
            payload["partner"] = {
                "id": key.partner.pk,
                "name": key.partner.name,
                "access": key.partner.access,
                "key": {
                    "id": key.pk,
                    "name": key.name,
                    "prefix": key.prefix,
                    "scopes": key.scopes,
                    "expires_at": key.expires_at,
                },
            }
        return Response(s.MeOutput(payload).data)


class HealthView(APIView):
    authentication_classes: list[type] = []
    permission_classes = [AllowAny]

    @extend_schema(
        tags=["meta"],
        responses={200: s.HealthOutput, 503: PROBLEM},
        auth=[],
        summary="Whether the service and its database answer (no credentials needed)",
    )
    def get(self, request: Request) -> Response:
        code: int = 200
        database = "ok"
        try:
            with connection.cursor() as cursor:
                cursor.execute("SELECT 1")
                cursor.fetchone()
        except Exception:  # any failure of the database is "unavailable"
            database, code = "unavailable", 503
        payload = {
            "status": "ok" if code == 200 else "unavailable",
            "database": database,
            "version": settings.SPECTACULAR_SETTINGS["VERSION"],
        }
        if code != 200:
            detail = str(_("The database does not answer."))
            body = problem(503, code="database_unavailable", detail=detail, extra={"database": database})
            return Response(body, status=code, content_type=PROBLEM_CONTENT_TYPE)
        return Response(payload, status=code)


# --- Enterprises ----------------------------------------------------------------------------


class EnterpriseListView(GenericAPIView[Any]):
    serializer_class = s.EnterpriseOutput
    pagination_class = pagination.ByNamePagination

    def get_queryset(self) -> QuerySet[Any]:
        if getattr(self, "swagger_fake_view", False):  # schema generation has no user
            return Enterprise.objects.none()
        return applicant_selectors.enterprise_list_visible_to(user=_user(self.request))

    @extend_schema(
        tags=["enterprises"],
        responses={200: s.EnterpriseOutput(many=True), **P400, **P401},
        summary="Enterprises: officers and managers see all, applicants their own",
    )
    def get(self, request: Request) -> Response:
        page = self.paginate_queryset(self.get_queryset())
        return self.get_paginated_response(s.EnterpriseOutput(page, many=True).data)

    @extend_schema(
        tags=["enterprises"],
        request=s.EnterpriseCreateInput,
        parameters=[ETAG, LOCATION],
        responses={201: s.EnterpriseOutput, **P400, **P401, **P403},
        summary="Register an enterprise; the applicant becomes its owner",
    )
    def post(self, request: Request) -> Response:
        data = s.EnterpriseCreateInput(data=request.data)
        data.is_valid(raise_exception=True)
        enterprise = applicant_services.enterprise_create(actor=_user(request), data=dict(data.validated_data))
        return _versioned(
            s.EnterpriseOutput(enterprise).data,
            code=status.HTTP_201_CREATED,
            location=_location(request, "enterprise-detail", pk=enterprise.pk),
        )


class EnterpriseDetailView(APIView):
    @extend_schema(
        tags=["enterprises"],
        parameters=[ETAG],
        responses={200: s.EnterpriseOutput, **P401, **P404},
        summary="One enterprise",
    )
    def get(self, request: Request, pk: str) -> Response:
        enterprise = applicant_selectors.enterprise_get_visible(user=_user(request), enterprise_id=pk)
        return _versioned(s.EnterpriseOutput(enterprise).data)

    @extend_schema(
        tags=["enterprises"],
        request=s.EnterpriseUpdateInput,
        parameters=[IF_MATCH, ETAG],
        responses={200: s.EnterpriseOutput, **P400, **P401, **P403, **P404, **P412},
        summary="Change an enterprise's record (its members, or officers)",
    )
    def patch(self, request: Request, pk: str) -> Response:
        user = _user(request)
        enterprise = applicant_selectors.enterprise_get_visible(user=user, enterprise_id=pk)
        expected = _expected_version(request, enterprise.version)
        applicant_services.require_version(enterprise=enterprise, expected_version=expected)  # 412 before 400
        data = s.EnterpriseUpdateInput(data=request.data, partial=True)
        data.is_valid(raise_exception=True)
        enterprise = applicant_services.enterprise_update(
            actor=user, enterprise=enterprise, data=dict(data.validated_data), expected_version=expected
        )
        return _versioned(s.EnterpriseOutput(enterprise).data)


class EnterpriseVerifyView(APIView):
    @extend_schema(
        tags=["enterprises"],
        request=s.EnterpriseVerifyInput,
        parameters=[IF_MATCH, ETAG],
        responses={200: s.EnterpriseOutput, **P400, **P401, **P403, **P404, **P412},
        summary="An officer confirms the registration (and startup status) on file",
    )
    def post(self, request: Request, pk: str) -> Response:
        user = _user(request)
        enterprise = applicant_selectors.enterprise_get_visible(user=user, enterprise_id=pk)
        data = s.EnterpriseVerifyInput(data=request.data)
        data.is_valid(raise_exception=True)
        # the service checks the role (403) before the version (412), under the row lock
        enterprise = applicant_services.enterprise_verify(
            actor=user,
            enterprise=enterprise,
            startup=data.validated_data["startup"],
            expected_version=_expected_version(request, enterprise.version),
        )
        return _versioned(s.EnterpriseOutput(enterprise).data)


# --- Programmes -----------------------------------------------------------------------------


class ProgrammeListView(GenericAPIView[Any]):
    serializer_class = s.ProgrammeOutput
    pagination_class = pagination.ProgrammePagination

    def get_queryset(self) -> QuerySet[Any]:
        return case_selectors.programme_list()

    @extend_schema(
        tags=["programmes"],
        responses={200: s.ProgrammeOutput(many=True), **P400, **P401},
        summary="Support programmes with their rules, newest first",
    )
    def get(self, request: Request) -> Response:
        page = self.paginate_queryset(self.get_queryset())
        return self.get_paginated_response(s.ProgrammeOutput(page, many=True).data)

    @extend_schema(
        tags=["programmes"],
        request=s.ProgrammeCreateInput,
        parameters=[LOCATION],
        responses={201: s.ProgrammeOutput, **P400, **P401, **P403},
        summary="Create a programme with its rules (managers)",
    )
    def post(self, request: Request) -> Response:
        case_services.require_manager(actor=_user(request))
        data = s.ProgrammeCreateInput(data=request.data)
        data.is_valid(raise_exception=True)
        fields = dict(data.validated_data)
        rules = fields.pop("rules")
        programme = case_services.programme_create(actor=_user(request), data=fields, rules=rules)
        return Response(
            s.ProgrammeOutput(case_selectors.programme_get(code=programme.code)).data,
            status=status.HTTP_201_CREATED,
            headers={"Location": _location(request, "programme-detail", code=programme.code)},
        )


class ProgrammeDetailView(APIView):
    @extend_schema(
        tags=["programmes"],
        responses={200: s.ProgrammeOutput, **P401, **P404},
        summary="One programme with its rules",
    )
    def get(self, request: Request, code: str) -> Response:
        return Response(s.ProgrammeOutput(case_selectors.programme_get(code=code)).data)

    @extend_schema(
        tags=["programmes"],
        request=s.ProgrammeUpdateInput,
        responses={200: s.ProgrammeOutput, **P400, **P401, **P403, **P404},
        summary="Change a programme (managers); `rules` replaces the rule set",
    )
    def patch(self, request: Request, code: str) -> Response:
        programme = case_selectors.programme_get(code=code)
        case_services.require_manager(actor=_user(request))
        data = s.ProgrammeUpdateInput(data=request.data, partial=True)
        data.is_valid(raise_exception=True)
        fields = dict(data.validated_data)
        rules = fields.pop("rules", None)
        case_services.programme_update(actor=_user(request), programme=programme, data=fields, rules=rules)
        return Response(s.ProgrammeOutput(case_selectors.programme_get(code=code)).data)


class ProgrammeBudgetView(APIView):
    @extend_schema(
        tags=["programmes"],
        responses={200: s.ProgrammeBudgetOutput, **P401, **P404},
        summary="The programme's budget from its ledger: total, committed, disbursed, available",
    )
    def get(self, request: Request, code: str) -> Response:
        programme = case_selectors.programme_get(code=code)
        return Response(s.ProgrammeBudgetOutput(case_selectors.programme_budget(programme=programme)).data)


class ProgrammeRuleChangeListView(GenericAPIView[Any]):
    serializer_class = s.SupportRuleChangeOutput
    pagination_class = pagination.RuleChangePagination
    queryset = SupportRuleChange.objects.none()  # for the schema; rows come from the selector

    @extend_schema(
        tags=["programmes"],
        responses={200: s.SupportRuleChangeOutput(many=True), **P400, **P401, **P404},
        summary="Who changed the programme's rules, when, and from what to what",
    )
    def get(self, request: Request, code: str) -> Response:
        programme = case_selectors.programme_get(code=code)
        page = self.paginate_queryset(case_selectors.programme_rule_changes(programme=programme))
        return self.get_paginated_response(s.SupportRuleChangeOutput(page, many=True).data)


class SupportRuleView(APIView):
    @extend_schema(
        tags=["programmes"],
        responses={200: s.SupportRuleOutput, **P401, **P404},
        summary="The programme's rule for one support type",
    )
    def get(self, request: Request, code: str, support_type: str) -> Response:
        programme = case_selectors.programme_get(code=code)
        return Response(
            s.SupportRuleOutput(case_selectors.rule_get(programme=programme, support_type=support_type)).data
        )

    @extend_schema(
        tags=["programmes"],
        request=s.SupportRuleUpdateInput,
        responses={200: s.SupportRuleOutput, **P400, **P401, **P403, **P404},
        summary="Change one rule (managers); decided cases keep the values they recorded",
    )
    def patch(self, request: Request, code: str, support_type: str) -> Response:
        programme = case_selectors.programme_get(code=code)
        rule = case_selectors.rule_get(programme=programme, support_type=support_type)
        case_services.require_manager(actor=_user(request))
        data = s.SupportRuleUpdateInput(data=request.data, partial=True)
        data.is_valid(raise_exception=True)
        rule = case_services.rule_update(actor=_user(request), rule=rule, data=dict(data.validated_data))
        return Response(s.SupportRuleOutput(rule).data)


# --- The working-day calendar -------------------------------------------------------------


class CalendarOverrideListView(GenericAPIView[Any]):
    serializer_class = s.CalendarOverrideOutput
    pagination_class = pagination.CalendarPagination
    queryset = CalendarOverride.objects.none()  # for the schema; rows come from the selector

    @extend_schema(
        tags=["calendar"],
        responses={200: s.CalendarOverrideOutput(many=True), **P400, **P401},
        summary="The department's changes to the national working-day calendar",
    )
    def get(self, request: Request) -> Response:
        """The department's working days and days off that override the national calendar."""
        page = self.paginate_queryset(case_selectors.calendar_overrides())
        return self.get_paginated_response(s.CalendarOverrideOutput(page, many=True).data)

    @extend_schema(
        tags=["calendar"],
        request=s.CalendarOverrideInput,
        responses={200: s.CalendarOverrideOutput, **P400, **P401, **P403},
        summary="Make a date a working day or a day off (managers); effective at once",
    )
    def post(self, request: Request) -> Response:
        user = _user(request)
        case_services.require_manager(actor=user, message=case_services.CALENDAR_MANAGERS_ONLY)
        data = s.CalendarOverrideInput(data=request.data)
        data.is_valid(raise_exception=True)
        override = case_services.calendar_override_set(actor=user, **data.validated_data)
        return Response(s.CalendarOverrideOutput(override).data)


class CalendarOverrideDetailView(APIView):
    @extend_schema(
        tags=["calendar"],
        responses={204: None, **P401, **P403, **P404},
        summary="Give a date back to the national calendar (managers)",
    )
    def delete(self, request: Request, date: str) -> Response:
        user = _user(request)
        case_services.require_manager(actor=user, message=case_services.CALENDAR_MANAGERS_ONLY)
        override = case_selectors.calendar_override_get(date=date)
        case_services.calendar_override_delete(actor=user, override=override)
        return Response(status=status.HTTP_204_NO_CONTENT)


# --- Cases ------------------------------------------------------------------------------


def _programme_or_field_error(code: str) -> Any:
    try:
        return case_selectors.programme_get(code=code)
    except NotFound:
        raise ValidationFailed.single("programme", "does_not_exist", _("No programme has this code.")) from None


class CaseListView(GenericAPIView[Any]):
    serializer_class = s.CaseOutput
    filterset_class = CaseFilter
    filter_backends = [FilterSetBackend, StrictOrderingFilter]
    # Each ordering is one indexed column, so the keyset cursor stays exact; `due_on` can
    # move (resubmit, reschedule), and a case that moves while a client pages is seen where
    # it is now.
    ordering_fields = ["created_at", "requested_amount", "queue", "due_on"]
    # `queue`: the officers' queue, one column (see Case.queue_key) so the cursor stays exact.
    # `due_on` sorts by `due_key`, the same date with cases not yet received last.
    ordering_aliases = {"queue": "queue_key", "due_on": "due_key"}
    ordering_help = _(
        "created_at (default -created_at: newest first), requested_amount, or queue: the officers' queue,"
        " day by day, where dossiers received on the same day come in order of Decree 80/2021 priority"
        " criteria (most first), then first come, first served; or due_on: the appointment date, cases not"
        " received yet last. A leading minus reverses the order."
    )
    ordering = ["-created_at"]

    def get_queryset(self) -> QuerySet[Case]:
        if getattr(self, "swagger_fake_view", False):  # schema generation has no user
            return Case.objects.none()
        return case_selectors.case_list_visible_to(user=_user(self.request))

    @extend_schema(
        tags=["cases"],
        responses={200: s.CaseOutput(many=True), **P400, **P401},
        summary="Cases the caller may see, filtered and ordered",
    )
    def get(self, request: Request) -> Response:
        queryset = self.filter_queryset(self.get_queryset())
        page = self.paginate_queryset(queryset)
        return self.get_paginated_response(s.CaseOutput(page, many=True, context={"request": request}).data)

    @extend_schema(
        tags=["cases"],
        request=s.CaseCreateInput,
        parameters=[ETAG, LOCATION],
        responses={201: s.CaseDetailOutput, **P400, **P401, **P403},
        summary="Open a draft application",
    )
    def post(self, request: Request) -> Response:
        user = _user(request)
        data = s.CaseCreateInput(data=request.data)
        data.is_valid(raise_exception=True)
        fields = dict(data.validated_data)
        try:
            enterprise = applicant_selectors.enterprise_get_visible(user=user, enterprise_id=fields.pop("enterprise"))
        except NotFound:
            raise ValidationFailed.single(
                "enterprise", "does_not_exist", _("No enterprise with this id is visible to you.")
            ) from None
        programme = _programme_or_field_error(fields.pop("programme"))
        case = case_services.case_create(actor=user, enterprise=enterprise, programme=programme, **fields)
        return _versioned(
            _detail(request, case.pk),
            code=status.HTTP_201_CREATED,
            location=_location(request, "case-detail", pk=case.pk),
        )


def _detail(request: Request, case_id: object) -> dict[str, Any]:
    """The case as its detail endpoint shows it, read again after a change."""
    detail = case_selectors.case_detail_visible(user=_user(request), case_id=str(case_id))
    return s.CaseDetailOutput(detail, context={"request": request}).data


def _checked_version(request: Request, case: Case) -> int | None:
    """If-Match as the version the service must find; 412 at once if it is not this one
    (before the body is read). The service checks it again under the guarded update."""
    expected = _expected_version(request, case.version)
    require_version(case, expected)
    return expected


class CaseDetailView(APIView):
    @extend_schema(
        tags=["cases"],
        parameters=[ETAG],
        responses={200: s.CaseDetailOutput, **P401, **P404},
        summary="One case, with what the caller may do with it now",
    )
    def get(self, request: Request, pk: str) -> Response:
        detail = case_selectors.case_detail_visible(user=_user(request), case_id=pk)
        return _versioned(s.CaseDetailOutput(detail, context={"request": request}).data)

    @extend_schema(
        tags=["cases"],
        request=s.CaseUpdateInput,
        parameters=[IF_MATCH, ETAG],
        responses={200: s.CaseDetailOutput, **P400, **P401, **P403, **P404, **P409, **P412},
        summary="Edit a draft",
    )
    def patch(self, request: Request, pk: str) -> Response:
        user = _user(request)
        case = case_selectors.case_get_visible(user=user, case_id=pk)
        case_services.require_editable_draft(case=case, actor=user)  # 403/409 before 412 before 400
        expected = _checked_version(request, case)
        data = s.CaseUpdateInput(data=request.data, partial=True)
        data.is_valid(raise_exception=True)
        fields = dict(data.validated_data)
        if "programme" in fields:
            fields["programme"] = _programme_or_field_error(fields["programme"])
        case_services.case_update(actor=user, case=case, data=fields, expected_version=expected)
        return _versioned(_detail(request, case.pk))

    @extend_schema(
        tags=["cases"],
        parameters=[IF_MATCH],
        responses={204: None, **P401, **P403, **P404, **P409, **P412},
        summary="Delete a draft",
    )
    def delete(self, request: Request, pk: str) -> Response:
        user = _user(request)
        case = case_selectors.case_get_visible(user=user, case_id=pk)
        case_services.require_editable_draft(case=case, actor=user)  # 403/409 before 412
        expected = _checked_version(request, case)
        case_services.case_delete(actor=user, case=case, expected_version=expected)
        return Response(status=status.HTTP_204_NO_CONTENT)


class CaseEventListView(GenericAPIView[Any]):
    serializer_class = s.CaseEventOutput
    pagination_class = pagination.EventPagination
    queryset = CaseEvent.objects.none()  # for the schema; rows come from the selector

    @extend_schema(
        tags=["cases"],
        responses={200: s.CaseEventOutput(many=True), **P400, **P401, **P404},
        summary="The case's audit trail, oldest first",
    )
    def get(self, request: Request, pk: str) -> Response:
        case = case_selectors.case_get_visible(user=_user(request), case_id=pk)
        page = self.paginate_queryset(case_selectors.case_events(case=case))
        return self.get_paginated_response(s.CaseEventOutput(page, many=True).data)


class CaseCostLinesView(APIView):
    @extend_schema(
        tags=["cases"],
        responses={200: s.CaseCostLinesOutput, **P401, **P404},
        summary="The cost lines and the eligible cost",
    )
    def get(self, request: Request, pk: str) -> Response:
        case = case_selectors.case_get_visible(user=_user(request), case_id=pk)
        return Response(s.CaseCostLinesOutput({"cost_lines": case_selectors.case_cost_lines(case=case)}).data)

    @extend_schema(
        tags=["cases"],
        request=s.CaseCostLinesInput,
        parameters=[IF_MATCH, ETAG],
        responses={200: s.CaseDetailOutput, **P400, **P401, **P403, **P404, **P409, **P412},
        summary="Replace the cost lines (members; draft or awaiting a supplement)",
    )
    def put(self, request: Request, pk: str) -> Response:
        user = _user(request)
        case = case_selectors.case_get_visible(user=user, case_id=pk)
        case_services.require_cost_lines_editable(case=case, actor=user)  # 403/409 before 412 before 400
        expected = _checked_version(request, case)
        data = s.CaseCostLinesInput(data=request.data)
        data.is_valid(raise_exception=True)
        case_services.case_cost_lines_replace(case=case, actor=user, expected_version=expected, **data.validated_data)
        return _versioned(_detail(request, case.pk))


class CaseEligibilityView(APIView):
    @extend_schema(
        tags=["cases"],
        responses={200: s.EligibilityOutput, **P401, **P404},
        summary="Each condition of the rule, passed or failed, with the reason",
    )
    def get(self, request: Request, pk: str) -> Response:
        case = case_selectors.case_get_visible(user=_user(request), case_id=pk)
        return Response(s.EligibilityOutput(case_selectors.case_eligibility(case=case)).data)


def _limit_upload_size(request: Request) -> None:
    """Put the size limit first among the upload handlers, before the body is read."""
    django_request = request._request
    django_request.upload_handlers = [SizeLimitUploadHandler(django_request), *django_request.upload_handlers]


class CaseChecklistView(APIView):
    @extend_schema(
        tags=["documents"],
        responses={200: s.ChecklistOutput, **P401, **P404},
        summary="Which documents the dossier must hold, and which it holds",
    )
    def get(self, request: Request, pk: str) -> Response:
        case = case_selectors.case_get_visible(user=_user(request), case_id=pk)
        return Response(s.ChecklistOutput(case_selectors.case_checklist(case=case)).data)


class CaseDocumentListView(GenericAPIView[Any]):
    serializer_class = s.DocumentOutput
    pagination_class = pagination.DocumentPagination
    queryset = Document.objects.none()  # for the schema; rows come from the selector
    parser_classes = [DocumentUploadParser]

    @extend_schema(
        tags=["documents"],
        responses={200: s.DocumentOutput(many=True), **P400, **P401, **P404},
        summary="Every version of every document of the case, slips included, oldest first",
    )
    def get(self, request: Request, pk: str) -> Response:
        """Every version of every document of the case, oldest first."""
        case = case_selectors.case_get_visible(user=_user(request), case_id=pk)
        page = self.paginate_queryset(case_selectors.case_documents(case=case))
        return self.get_paginated_response(s.DocumentOutput(page, many=True).data)

    @extend_schema(
        tags=["documents"],
        request={"multipart/form-data": s.DocumentUploadInput},
        parameters=[IF_MATCH, LOCATION],
        responses={
            201: s.DocumentOutput,
            **P400,
            **P401,
            **P403,
            **P404,
            **P409,
            **P412,
            413: PROBLEM,
            415: PROBLEM,
        },
        summary="Upload a document, or a new version of one (members; draft or awaiting a supplement)",
    )
    def post(self, request: Request, pk: str) -> Response:
        user = _user(request)
        case = case_selectors.case_get_visible(user=user, case_id=pk)
        case_services.require_document_upload(case=case, actor=user)  # 403/409 before reading the body
        expected = _checked_version(request, case)  # and 412
        _limit_upload_size(request)
        data = s.DocumentUploadInput(data=request.data)
        data.is_valid(raise_exception=True)
        fields = dict(data.validated_data)
        replaces = fields.pop("replaces", None)
        if replaces is not None:
            try:
                replaces = case_selectors.document_get_visible(user=user, case_id=case.pk, document_id=replaces)
            except NotFound:
                raise ValidationFailed.single(
                    "replaces", "does_not_exist", _("The case has no document with this id.")
                ) from None
        upload = fields.pop("file")
        document = case_services.document_upload(
            case=case, actor=user, file=upload, name=upload.name, replaces=replaces, expected_version=expected, **fields
        )
        shown = case_selectors.document_get_visible(user=user, case_id=case.pk, document_id=document.pk)
        return Response(
            s.DocumentOutput(shown).data,
            status=status.HTTP_201_CREATED,
            headers={"Location": _location(request, "case-document", pk=case.pk, document_id=document.pk)},
        )


class CaseDocumentDetailView(APIView):
    @extend_schema(
        tags=["documents"],
        responses={200: s.DocumentOutput, **P401, **P404},
        summary="One document's description (the file is under download/)",
    )
    def get(self, request: Request, pk: str, document_id: str) -> Response:
        document = case_selectors.document_get_visible(user=_user(request), case_id=pk, document_id=document_id)
        return Response(s.DocumentOutput(document).data)


class CaseDocumentDownloadView(APIView):
    @extend_schema(
        tags=["documents"],
        responses={
            **{(200, media_type): OpenApiTypes.BINARY for media_type in ALLOWED_MEDIA_TYPES},
            **P401,
            **P404,
        },
        summary="The file itself, as an attachment (the only way to read it)",
    )
    def get(self, request: Request, pk: str, document_id: str) -> FileResponse:
        document = case_selectors.document_get_visible(user=_user(request), case_id=pk, document_id=document_id)
        try:
            stream = document.file.open("rb")
        except OSError:  # the row is there, the bytes are not: an operations problem, said once
            logger.error("document %s of case %s: stored file %s is missing", document.pk, pk, document.file.name)
            raise DocumentNotFound(_("The document's file cannot be found. The office has been told.")) from None
        response = FileResponse(
            stream,
            as_attachment=True,
            filename=download_name(document.original_name, document.media_type),
            content_type=document.media_type,
        )
        response["Cache-Control"] = "private, no-store"
        return response


class CaseFilingView(APIView):
    @extend_schema(
        tags=["ip office"],
        responses={200: s.FilingOutput, **P401, **P404},
        summary="Where and when the application was filed at the IP office",
    )
    def get(self, request: Request, pk: str) -> Response:
        case = case_selectors.case_get_visible(user=_user(request), case_id=pk)
        return Response(s.FilingOutput(case_selectors.case_filing(case=case)).data)

    @extend_schema(
        tags=["ip office"],
        request=s.FilingInput,
        parameters=[IF_MATCH],
        responses={200: s.FilingOutput, **P400, **P401, **P403, **P404, **P409, **P412},
        summary="Record or correct where and when the application was filed",
    )
    def put(self, request: Request, pk: str) -> Response:
        user = _user(request)
        case = case_selectors.case_get_visible(user=user, case_id=pk)
        case_services.require_ip_record(case=case, actor=user)
        expected = _checked_version(request, case)
        data = s.FilingInput(data=request.data)
        data.is_valid(raise_exception=True)
        filing = case_services.filing_set(case=case, actor=user, expected_version=expected, **data.validated_data)
        return Response(s.FilingOutput(filing).data)


class CaseMilestoneListView(GenericAPIView[Any]):
    serializer_class = s.MilestoneOutput
    pagination_class = pagination.MilestonePagination
    queryset = Milestone.objects.none()  # for the schema; rows come from the selector
    parser_classes = [DocumentUploadParser]

    @extend_schema(
        tags=["ip office"],
        responses={200: s.MilestoneOutput(many=True), **P400, **P401, **P404},
        summary="The IP office's steps on the application, in the order they happened",
    )
    def get(self, request: Request, pk: str) -> Response:
        case = case_selectors.case_get_visible(user=_user(request), case_id=pk)
        page = self.paginate_queryset(case_selectors.case_milestones(case=case))
        return self.get_paginated_response(s.MilestoneOutput(page, many=True).data)

    @extend_schema(
        tags=["ip office"],
        request={"multipart/form-data": s.MilestoneInput},
        parameters=[IF_MATCH],
        responses={
            201: s.MilestoneOutput,
            **P400,
            **P401,
            **P403,
            **P404,
            **P409,
            **P412,
            413: PROBLEM,
            415: PROBLEM,
        },
        summary="Record a step at the IP office, with its evidence document",
    )
    def post(self, request: Request, pk: str) -> Response:
        user = _user(request)
        case = case_selectors.case_get_visible(user=user, case_id=pk)
        case_services.require_ip_record(case=case, actor=user)
        expected = _checked_version(request, case)
        _limit_upload_size(request)
        data = s.MilestoneInput(data=request.data)
        data.is_valid(raise_exception=True)
        fields = dict(data.validated_data)
        evidence = fields.pop("evidence")
        milestone = case_services.milestone_add(
            case=case, actor=user, evidence=evidence, evidence_name=evidence.name, expected_version=expected, **fields
        )
        return Response(s.MilestoneOutput(milestone).data, status=status.HTTP_201_CREATED)


class CaseClaimAllowanceView(APIView):
    @extend_schema(
        tags=["ip office"],
        request=s.ClaimAllowanceInput,
        responses={201: s.ClaimAllowanceOutput, **P400, **P401, **P403, **P404},
        summary="Allow this case to claim a number another case claims (managers, with a reason)",
    )
    def post(self, request: Request, pk: str) -> Response:
        user = _user(request)
        case = case_selectors.case_get_visible(user=user, case_id=pk)
        data = s.ClaimAllowanceInput(data=request.data)
        data.is_valid(raise_exception=True)
        allowance = case_services.claim_allow(case=case, actor=user, **data.validated_data)
        return Response(s.ClaimAllowanceOutput(allowance).data, status=status.HTTP_201_CREATED)


@dataclass(frozen=True)
class ActionEndpoint:
    """One workflow action over HTTP: its body and the service that performs it."""

    action: str
    input: type[serializers.Serializer[Any]]
    service: Callable[..., Case]
    summary: str


ACTION_ENDPOINTS: tuple[ActionEndpoint, ...] = (
    ActionEndpoint("submit", s.CaseCommentInput, case_services.case_submit, "Submit a draft"),
    ActionEndpoint("receive", s.CaseCommentInput, case_services.case_receive, "Receive the dossier (officer)"),
    ActionEndpoint(
        "request-supplement",
        s.CaseSupplementRequestInput,
        case_services.case_request_supplement,
        "Ask for everything missing, in one request",
    ),
    ActionEndpoint("resubmit", s.CaseCommentInput, case_services.case_resubmit, "Resubmit after a supplement"),
    ActionEndpoint("recommend", s.CaseRecommendInput, case_services.case_recommend, "Recommend an outcome"),
    ActionEndpoint("approve", s.CaseApproveInput, case_services.case_approve, "Approve (manager, four eyes)"),
    ActionEndpoint("reject", s.CaseRequiredCommentInput, case_services.case_reject, "Reject (manager, four eyes)"),
    ActionEndpoint("return", s.CaseRequiredCommentInput, case_services.case_return, "Return for review (manager)"),
    ActionEndpoint("withdraw", s.CaseCommentInput, case_services.case_withdraw, "Withdraw the application"),
    ActionEndpoint("disburse", s.CaseDisburseInput, case_services.case_disburse, "Record the payment"),
    ActionEndpoint("cancel", s.CaseRequiredCommentInput, case_services.case_cancel, "Cancel an approval (manager)"),
    ActionEndpoint("assign", s.CaseAssignInput, case_services.case_assign, "Assign an officer (manager)"),
    ActionEndpoint(
        "reschedule",
        s.CaseRescheduleInput,
        case_services.case_reschedule,
        "Apologise for an overdue case and give a new date (assigned officer)",
    ),
)


CASE_OR_RECEIPT = OpenApiResponse(
    PolymorphicProxySerializer(
        component_name="CaseDetailOrReceipt",
        serializers=[s.CaseDetailOutput, s.CaseReceiptOutput],
        resource_type_field_name=None,
    ),
    description="The case as GET /cases/{id}/ shows it; to a partner key without `cases:read`, only the "
    "receipt (`CaseReceiptOutput`: id, reference, state, version).",
)


class _ActionSchema(ActionAutoSchema):
    """An action a partner may take with a write scope answers it with a receipt unless its
    key also reads cases: the schema says so for those actions only (disburse)."""

    def _get_response_for_code(self, serializer: Any, status_code: str, *args: Any, **kwargs: Any) -> Any:
        endpoint = getattr(self.view, "endpoint", None)
        if status_code == "200" and endpoint and answers_partners_with_a_receipt(f"case-{endpoint.action}", "POST"):
            serializer = CASE_OR_RECEIPT
        return super()._get_response_for_code(serializer, status_code, *args, **kwargs)  # type: ignore[no-untyped-call]


class CaseActionView(GenericAPIView[Any]):
    """POST /cases/{id}/{action}/ for each entry of ACTION_ENDPOINTS."""

    endpoint: ActionEndpoint | None = None
    schema = _ActionSchema()

    def get_serializer_class(self) -> type[serializers.Serializer[Any]]:
        assert self.endpoint is not None
        return self.endpoint.input

    @extend_schema(
        tags=["case actions"],
        parameters=[IF_MATCH, ETAG],
        responses={200: s.CaseDetailOutput, **P400, **P401, **P403, **P404, **P409, **P412},
    )
    def post(self, request: Request, pk: str) -> Response:
        assert self.endpoint is not None
        user = _user(request)
        case = case_selectors.case_get_visible(user=user, case_id=pk)
        # Role and state first (403/409), then the version (412), so a caller who may not
        # act learns that, not which body the action would have wanted.
        authorize(case, self.endpoint.action, user)
        expected = _checked_version(request, case)
        data = self.endpoint.input(data=request.data)
        data.is_valid(raise_exception=True)
        case = self.endpoint.service(case=case, actor=user, expected_version=expected, **data.validated_data)
        if not reads_cases(user):
            return _versioned(s.CaseReceiptOutput(case).data)
        return _versioned(_detail(request, case.pk))
