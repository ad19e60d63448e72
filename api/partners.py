"""HTTP for partner systems: managers register partners and issue keys; an enterprise's
owners authorise a partner to reach their cases. Views parse, call a service or a
selector, and render."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.generics import GenericAPIView
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from api import pagination
from api.serializers import StrictInput
from api.views import LOCATION, P400, P401, P403, P404, P409, _location, _user
from applicants import selectors as applicant_selectors
from partners import selectors, services
from partners.models import Access, Authorisation, Partner, PartnerEvent, PartnerKey, Scope

# --- Serializers -------------------------------------------------------------------------


class ActorOutput(serializers.Serializer[Any]):
    id = serializers.UUIDField()
    username = serializers.CharField()


class PartnerOutput(serializers.ModelSerializer[Partner]):
    username = serializers.CharField(source="user.username", read_only=True, help_text="The actor in case events.")

    class Meta:
        model = Partner
        fields = ["id", "name", "access", "is_active", "username", "created_at", "updated_at"]
        read_only_fields = fields


class PartnerCreateInput(StrictInput):
    name = serializers.CharField(max_length=255)
    access = serializers.ChoiceField(choices=Access.choices, default=Access.AUTHORISED)


class PartnerUpdateInput(StrictInput):
    name = serializers.CharField(max_length=255, required=False)
    access = serializers.ChoiceField(choices=Access.choices, required=False)
    is_active = serializers.BooleanField(required=False)


class PartnerKeyOutput(serializers.ModelSerializer[PartnerKey]):
    created_by = ActorOutput(read_only=True)
    revoked_by = ActorOutput(read_only=True, allow_null=True)
    scopes = serializers.ListField(child=serializers.ChoiceField(choices=Scope.choices), read_only=True)

    class Meta:
        model = PartnerKey
        fields = [
            "id",
            "name",
            "prefix",
            "scopes",
            "expires_at",
            "revoked_at",
            "revoked_by",
            "last_used_at",
            "created_by",
            "created_at",
        ]
        read_only_fields = fields


class PartnerKeyCreatedOutput(PartnerKeyOutput):
    key = serializers.CharField(
        read_only=True, help_text="The API key itself. Shown this once: only a digest of it is kept."
    )

    class Meta(PartnerKeyOutput.Meta):
        fields = [*PartnerKeyOutput.Meta.fields, "key"]
        read_only_fields = fields


class PartnerKeyCreateInput(StrictInput):
    name = serializers.CharField(max_length=100)
    # Validated by the service, so an unknown scope is named in the answer.
    scopes = serializers.ListField(child=serializers.CharField(max_length=40), allow_empty=True)
    expires_at = serializers.DateTimeField(required=False, help_text="Default: a year from now; at most two.")


class PartnerEventOutput(serializers.ModelSerializer[PartnerEvent]):
    actor = ActorOutput(read_only=True)

    class Meta:
        model = PartnerEvent
        fields = ["id", "action", "actor", "at", "data"]
        read_only_fields = fields


class AuthorisationOutput(serializers.ModelSerializer[Authorisation]):
    partner = PartnerOutput(read_only=True)
    granted_by = ActorOutput(read_only=True)

    class Meta:
        model = Authorisation
        fields = ["id", "partner", "granted_by", "granted_at"]
        read_only_fields = fields


class AuthorisationCreateInput(StrictInput):
    partner = serializers.UUIDField()


# --- Views -------------------------------------------------------------------------------


class PartnerListView(GenericAPIView[Any]):
    serializer_class = PartnerOutput
    pagination_class = pagination.ByNamePagination
    queryset = Partner.objects.none()  # for the schema; rows come from the selector

    @extend_schema(
        tags=["partners"],
        responses={200: PartnerOutput(many=True), **P400, **P401},
        summary="Partner systems: managers see all, others the active ones, a partner itself",
    )
    def get(self, request: Request) -> Response:
        page = self.paginate_queryset(selectors.partner_list_visible_to(user=_user(request)))
        return self.get_paginated_response(PartnerOutput(page, many=True).data)

    @extend_schema(
        tags=["partners"],
        request=PartnerCreateInput,
        responses={201: PartnerOutput, **P400, **P401, **P403},
        summary="Register a partner system (managers)",
        parameters=[LOCATION],
    )
    def post(self, request: Request) -> Response:
        user = _user(request)
        services.require_manager(actor=user)
        data = PartnerCreateInput(data=request.data)
        data.is_valid(raise_exception=True)
        partner = services.partner_create(actor=user, **data.validated_data)
        return Response(
            PartnerOutput(partner).data,
            status=status.HTTP_201_CREATED,
            headers={"Location": _location(request, "partner-detail", pk=partner.pk)},
        )


class PartnerDetailView(APIView):
    @extend_schema(
        tags=["partners"],
        responses={200: PartnerOutput, **P401, **P404},
        summary="One partner system: managers see any, others an active one, a partner only itself",
    )
    def get(self, request: Request, pk: str) -> Response:
        return Response(PartnerOutput(selectors.partner_get_visible(user=_user(request), partner_id=pk)).data)

    @extend_schema(
        tags=["partners"],
        request=PartnerUpdateInput,
        responses={200: PartnerOutput, **P400, **P401, **P403, **P404},
        summary="Rename, change the access of, deactivate or reactivate a partner (managers)",
    )
    def patch(self, request: Request, pk: str) -> Response:
        user = _user(request)
        partner = selectors.partner_get_visible(user=user, partner_id=pk)
        services.require_manager(actor=user)
        data = PartnerUpdateInput(data=request.data, partial=True)
        data.is_valid(raise_exception=True)
        partner = services.partner_update(actor=user, partner=partner, data=dict(data.validated_data))
        return Response(PartnerOutput(partner).data)


class PartnerKeyListView(GenericAPIView[Any]):
    serializer_class = PartnerKeyOutput
    pagination_class = pagination.KeysetPagination
    queryset = PartnerKey.objects.none()

    @extend_schema(
        tags=["partners"],
        responses={200: PartnerKeyOutput(many=True), **P400, **P401, **P403, **P404},
        summary="A partner's keys, newest first (managers; never the keys themselves)",
    )
    def get(self, request: Request, pk: str) -> Response:
        user = _user(request)
        partner = selectors.partner_get_visible(user=user, partner_id=pk)
        page = self.paginate_queryset(selectors.partner_keys(user=user, partner=partner))
        return self.get_paginated_response(PartnerKeyOutput(page, many=True).data)

    @extend_schema(
        tags=["partners"],
        request=PartnerKeyCreateInput,
        responses={201: PartnerKeyCreatedOutput, **P400, **P401, **P403, **P404},
        summary="Issue an API key with scopes (managers); the key is shown once",
    )
    def post(self, request: Request, pk: str) -> Response:
        user = _user(request)
        partner = selectors.partner_get_visible(user=user, partner_id=pk)
        services.require_manager(actor=user)
        data = PartnerKeyCreateInput(data=request.data)
        data.is_valid(raise_exception=True)
        key, raw = services.key_create(actor=user, partner=partner, **data.validated_data)
        key.key = raw  # type: ignore[attr-defined]  # rendered once, never stored
        return Response(PartnerKeyCreatedOutput(key).data, status=status.HTTP_201_CREATED)


class PartnerKeyRevokeView(APIView):
    @extend_schema(
        tags=["partners"],
        request=None,
        responses={200: PartnerKeyOutput, **P401, **P403, **P404},
        summary="Revoke a key at once (managers); revoking twice changes nothing",
    )
    def post(self, request: Request, pk: str, key_id: str) -> Response:
        user = _user(request)
        partner = selectors.partner_get_visible(user=user, partner_id=pk)
        key = selectors.partner_key_get(user=user, partner=partner, key_id=key_id)
        return Response(PartnerKeyOutput(services.key_revoke(actor=user, key=key)).data)


class PartnerEventListView(GenericAPIView[Any]):
    serializer_class = PartnerEventOutput
    pagination_class = pagination.RuleChangePagination  # oldest first, by `at`
    queryset = PartnerEvent.objects.none()

    @extend_schema(
        tags=["partners"],
        responses={200: PartnerEventOutput(many=True), **P400, **P401, **P403, **P404},
        summary="A partner's audit trail: keys, authorisations, webhook subscriptions (managers)",
    )
    def get(self, request: Request, pk: str) -> Response:
        user = _user(request)
        partner = selectors.partner_get_visible(user=user, partner_id=pk)
        page = self.paginate_queryset(selectors.partner_events(user=user, partner=partner))
        return self.get_paginated_response(PartnerEventOutput(page, many=True).data)


class AuthorisationPagination(pagination.KeysetPagination):
    ordering = "-granted_at"


class EnterprisePartnerListView(GenericAPIView[Any]):
    serializer_class = AuthorisationOutput
    pagination_class = AuthorisationPagination
    queryset = Authorisation.objects.none()

    def _rows(self, request: Request, pk: str) -> QuerySet[Authorisation]:
        enterprise = applicant_selectors.enterprise_get_visible(user=_user(request), enterprise_id=pk)
        return selectors.enterprise_authorisations(enterprise=enterprise)

    @extend_schema(
        tags=["partners"],
        responses={200: AuthorisationOutput(many=True), **P400, **P401, **P404},
        summary="The partner systems this enterprise authorises now",
    )
    def get(self, request: Request, pk: str) -> Response:
        page = self.paginate_queryset(self._rows(request, pk))
        return self.get_paginated_response(AuthorisationOutput(page, many=True).data)

    @extend_schema(
        tags=["partners"],
        request=AuthorisationCreateInput,
        responses={201: AuthorisationOutput, **P400, **P401, **P403, **P404, **P409},
        summary="Authorise a partner (an IP agent) to see and act on this enterprise's cases (owners)",
    )
    def post(self, request: Request, pk: str) -> Response:
        user = _user(request)
        enterprise = applicant_selectors.enterprise_get_visible(user=user, enterprise_id=pk)
        data = AuthorisationCreateInput(data=request.data)
        data.is_valid(raise_exception=True)
        partner = selectors.partner_get_visible(user=user, partner_id=data.validated_data["partner"])
        authorisation = services.authorisation_grant(actor=user, enterprise=enterprise, partner=partner)
        return Response(AuthorisationOutput(authorisation).data, status=status.HTTP_201_CREATED)


class EnterprisePartnerDetailView(APIView):
    @extend_schema(
        tags=["partners"],
        responses={204: None, **P401, **P403, **P404},
        summary="Withdraw a partner's authorisation (owners, or a manager)",
    )
    def delete(self, request: Request, pk: str, partner_id: str) -> Response:
        user = _user(request)
        enterprise = applicant_selectors.enterprise_get_visible(user=user, enterprise_id=pk)
        authorisation = selectors.authorisation_get(enterprise=enterprise, partner_id=partner_id)
        services.authorisation_revoke(actor=user, authorisation=authorisation)
        return Response(status=status.HTTP_204_NO_CONTENT)
