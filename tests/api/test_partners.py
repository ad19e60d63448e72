"""Partner systems: managers register them and issue scoped, expiring, hashed keys; an
enterprise's owners authorise them; a key opens only what its scopes cover, over the
cases the partner reaches, and everything it does is an event naming it."""

from __future__ import annotations

import datetime as dt
import hashlib
from typing import Any

import pytest
import time_machine
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone

from accounts.models import User
from applicants.models import MembershipRole
from cases.models import Case, CaseEvent
from partners import services as partner_services
from partners.models import Authorisation, Partner, PartnerEvent, PartnerKey
from tests.factories import PDF, UserFactory, add_member, make_partner
from tests.problems import assert_field_errors, assert_problem

TODAY = timezone.localdate


def _create_partner(client: Any, **body: Any) -> Any:
    return client.post("/api/v1/partners/", {"name": "Cổng dịch vụ công", "access": "all", **body}, format="json")


def _issue_key(client: Any, partner_id: Any, **body: Any) -> Any:
    payload = {"name": "production", "scopes": ["cases:read"], **body}
    return client.post(f"/api/v1/partners/{partner_id}/keys/", payload, format="json")


# --- Registering partners and issuing keys ----------------------------------------------


def test_manager_registers_a_partner_with_a_user_of_its_own(client_for, manager):
    response = _create_partner(client_for(manager))

    assert response.status_code == 201, response.content
    body = response.json()
    assert (body["name"], body["access"], body["is_active"]) == ("Cổng dịch vụ công", "all", True)
    partner = Partner.objects.get(pk=body["id"])
    assert partner.user.username == body["username"]
    assert not partner.user.has_usable_password()
    assert list(partner.user.groups.values_list("name", flat=True)) == ["partner"]
    assert list(PartnerEvent.objects.filter(partner=partner).values_list("action", "actor")) == [("create", manager.pk)]


@pytest.mark.parametrize("persona", ["applicant", "officer"])
def test_only_managers_register_partners(client_for, persona, request):
    response = _create_partner(client_for(request.getfixturevalue(persona)))

    assert_problem(response, 403)
    assert not Partner.objects.exists()


def test_registering_a_partner_needs_a_token(client_for):
    assert_problem(_create_partner(client_for(None)), 401)


@pytest.mark.parametrize(("body", "field"), [({"name": "  "}, "name"), ({"access": "some"}, "access")])
def test_a_partner_needs_a_name_and_a_known_access(client_for, manager, body, field):
    assert_field_errors(_create_partner(client_for(manager), **body), field)
    assert not Partner.objects.exists()


def test_a_key_is_shown_once_and_only_its_digest_is_kept(client_for, manager):
    client = client_for(manager)
    partner_id = _create_partner(client).json()["id"]

    response = _issue_key(client, partner_id, scopes=["cases:read", "webhooks"])

    assert response.status_code == 201, response.content
    body = response.json()
    raw = body["key"]
    assert raw.startswith(f"ipk_{body['prefix']}_")
    assert body["scopes"] == ["cases:read", "webhooks"]
    key = PartnerKey.objects.get(pk=body["id"])
    assert key.digest == hashlib.sha256(raw.encode()).hexdigest()
    assert raw not in {str(value) for value in PartnerKey.objects.values_list("prefix", "digest", "name")[0]}
    listed = client.get(f"/api/v1/partners/{partner_id}/keys/").json()["results"]
    assert [row["id"] for row in listed] == [body["id"]]
    assert "key" not in listed[0]
    # a year by default
    assert abs(key.expires_at - (timezone.now() + dt.timedelta(days=365))) < dt.timedelta(minutes=1)


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"scopes": ["cases:read", "cases:write"]}, "scopes"),
        ({"scopes": []}, "scopes"),
        ({"scopes": "cases:read"}, "scopes"),
        ({"name": ""}, "name"),
        ({"expires_at": "2001-01-01T00:00:00+07:00"}, "expires_at"),
        ({"expires_at": "2099-01-01T00:00:00+07:00"}, "expires_at"),
    ],
)
def test_bad_keys_are_refused_and_none_is_issued(client_for, manager, body, field):
    client = client_for(manager)
    partner_id = _create_partner(client).json()["id"]

    assert_field_errors(_issue_key(client, partner_id, **body), field)
    assert not PartnerKey.objects.exists()


def test_an_unknown_scope_is_named_in_the_answer(client_for, manager):
    client = client_for(manager)
    partner_id = _create_partner(client).json()["id"]

    body = assert_field_errors(_issue_key(client, partner_id, scopes=["cases:delete"]), "scopes")

    assert "cases:delete" in body["errors"][0]["message"]


@pytest.mark.parametrize("persona", ["applicant", "officer"])
def test_only_managers_issue_keys_and_see_them(client_for, manager, persona, request):
    partner_id = _create_partner(client_for(manager)).json()["id"]
    client = client_for(request.getfixturevalue(persona))

    assert_problem(_issue_key(client, partner_id), 403)
    assert_problem(client.get(f"/api/v1/partners/{partner_id}/keys/"), 403)
    assert_problem(client.get(f"/api/v1/partners/{partner_id}/events/"), 403)
    assert not PartnerKey.objects.exists()


def test_keys_of_an_unknown_partner_are_a_404(client_for, manager):
    client = client_for(manager)

    assert_problem(_issue_key(client, "00000000-0000-0000-0000-000000000000"), 404)
    assert_problem(client.get("/api/v1/partners/not-a-uuid/"), 404)


# --- Signing in with a key ----------------------------------------------------------------


def test_a_key_signs_the_partner_in_with_its_scopes(key_client, ip_agent):
    partner, raw = ip_agent

    body = key_client(raw).get("/api/v1/me/").json()

    assert body["roles"] == ["partner"]
    assert body["enterprises"] == []
    assert body["partner"]["id"] == str(partner.pk)
    assert body["partner"]["key"]["scopes"] == ["cases:read", "milestones:write", "payments:write", "webhooks"]


def test_a_person_sees_no_partner_in_me(client_for, applicant):
    assert client_for(applicant).get("/api/v1/me/").json()["partner"] is None


def test_a_revoked_key_is_refused_at_once(client_for, key_client, manager, ip_agent):
    partner, raw = ip_agent
    key = partner.keys.get()

    response = client_for(manager).post(f"/api/v1/partners/{partner.pk}/keys/{key.pk}/revoke/")

    assert response.status_code == 200, response.content
    assert response.json()["revoked_at"] is not None
    body = assert_problem(key_client(raw).get("/api/v1/me/"), 401)
    assert "revoked" in body["detail"]
    assert key_client(raw).get("/api/v1/me/").has_header("WWW-Authenticate")
    again = client_for(manager).post(f"/api/v1/partners/{partner.pk}/keys/{key.pk}/revoke/")
    assert again.json()["revoked_at"] == response.json()["revoked_at"]
    assert PartnerEvent.objects.filter(partner=partner, action="key_revoke").count() == 1


def test_an_expired_key_is_refused(key_client, ip_agent):
    _partner, raw = ip_agent

    with time_machine.travel(timezone.now() + dt.timedelta(days=366)):
        body = assert_problem(key_client(raw).get("/api/v1/me/"), 401)

    assert "expired" in body["detail"]


@pytest.mark.parametrize(
    "presented",
    ["ipk_", "ipk_000000000000_nope", "ipk_{prefix}_wrong-secret", "ipk_{prefix}", "{raw}x"],
)
def test_a_wrong_or_malformed_key_is_a_401(key_client, ip_agent, presented):
    partner, raw = ip_agent
    prefix = partner.keys.get().prefix

    assert_problem(key_client(presented.format(prefix=prefix, raw=raw)).get("/api/v1/cases/"), 401)


def test_a_deactivated_partner_is_refused(client_for, key_client, manager, ip_agent):
    partner, raw = ip_agent

    response = client_for(manager).patch(f"/api/v1/partners/{partner.pk}/", {"is_active": False}, format="json")

    assert response.status_code == 200, response.content
    assert_problem(key_client(raw).get("/api/v1/me/"), 401)
    client_for(manager).patch(f"/api/v1/partners/{partner.pk}/", {"is_active": True}, format="json")
    assert key_client(raw).get("/api/v1/me/").status_code == 200


def test_only_managers_change_a_partner(client_for, applicant, ip_agent):
    partner, _raw = ip_agent

    assert_problem(
        client_for(applicant).patch(f"/api/v1/partners/{partner.pk}/", {"is_active": False}, format="json"), 403
    )
    assert Partner.objects.get(pk=partner.pk).is_active


def test_last_use_is_recorded_without_a_write_per_request(key_client, ip_agent, django_assert_num_queries):
    partner, raw = ip_agent
    client = key_client(raw)
    client.get("/api/v1/me/")
    assert partner.keys.get().last_used_at is not None

    # key (with partner and user), authorisations, memberships: no update of last_used_at
    with django_assert_num_queries(3):
        assert client.get("/api/v1/me/").status_code == 200


# --- What a key opens ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "url"),
    [
        ("get", "/api/v1/enterprises/"),
        ("get", "/api/v1/calendar/overrides/"),
        ("post", "/api/v1/auth/logout/"),
        ("post", "/api/v1/partners/"),
    ],
)
def test_a_partner_cannot_use_endpoints_made_for_people(key_client, ip_agent, method, url):
    _partner, raw = ip_agent

    body = assert_problem(getattr(key_client(raw), method)(url, {}, format="json"), 403)

    assert body["detail"] == "Partner systems cannot use this endpoint."
    assert key_client(raw).get("/api/v1/me/").status_code == 200  # logout did not delete the key


def test_a_key_without_the_read_scope_cannot_read_cases(key_client, enterprise, case_in):
    case = case_in("submitted")
    _partner, raw = make_partner(scopes=["payments:write"], enterprises=[enterprise])

    body = assert_problem(key_client(raw).get("/api/v1/cases/"), 403)

    assert "cases:read" in body["detail"]
    assert_problem(key_client(raw).get(f"/api/v1/cases/{case.pk}/events/"), 403)


def test_a_read_only_key_cannot_record_milestones_or_payments(key_client, enterprise, case_in):
    submitted = case_in("submitted")
    approved = case_in("approved")
    _partner, raw = make_partner(scopes=["cases:read"], enterprises=[enterprise])
    client = key_client(raw)
    events = CaseEvent.objects.count()

    milestone = client.post(
        f"/api/v1/cases/{submitted.pk}/milestones/",
        {"kind": "formality_accepted", "occurred_on": TODAY().isoformat()},
        format="json",
    )
    payment = client.post(
        f"/api/v1/cases/{approved.pk}/disburse/",
        {"amount": 1_000_000, "paid_on": TODAY().isoformat(), "payment_reference": "UNC-1"},
        format="json",
    )

    assert "milestones:write" in assert_problem(milestone, 403)["detail"]
    assert "payments:write" in assert_problem(payment, 403)["detail"]
    assert CaseEvent.objects.count() == events
    assert client.get(f"/api/v1/cases/{approved.pk}/").json()["allowed_actions"] == []


@pytest.mark.parametrize(
    "action", ["receive", "request-supplement", "recommend", "approve", "reject", "withdraw", "assign", "cancel"]
)
def test_a_partner_takes_no_action_but_payment(key_client, ip_agent, case_in, action):
    _partner, raw = ip_agent
    case = case_in("submitted")

    response = key_client(raw).post(f"/api/v1/cases/{case.pk}/{action}/", {"comment": "x"}, format="json")

    assert_problem(response, 403)
    assert Case.objects.get(pk=case.pk).state == "submitted"


# --- Whose cases a partner reaches --------------------------------------------------------


def test_an_ip_agent_sees_only_its_clients_cases_and_no_drafts(
    key_client, ip_agent, case_in, other_applicant, other_enterprise
):
    _partner, raw = ip_agent
    mine = case_in("submitted")
    draft = case_in("draft")
    theirs = case_in("submitted", member=other_applicant, enterprise=other_enterprise)
    client = key_client(raw)

    listed = [row["id"] for row in client.get("/api/v1/cases/").json()["results"]]

    assert listed == [str(mine.pk)]
    assert client.get(f"/api/v1/cases/{mine.pk}/").status_code == 200
    assert_problem(client.get(f"/api/v1/cases/{theirs.pk}/"), 404)
    assert_problem(client.get(f"/api/v1/cases/{draft.pk}/"), 404)
    assert_problem(client.get(f"/api/v1/cases/{theirs.pk}/events/"), 404)


def test_the_portal_sees_every_case_past_draft(key_client, portal, case_in, other_applicant, other_enterprise):
    _partner, raw = portal
    mine = case_in("submitted")
    case_in("draft")
    theirs = case_in("in_review", member=other_applicant, enterprise=other_enterprise)

    listed = {row["id"] for row in key_client(raw).get("/api/v1/cases/").json()["results"]}

    assert listed == {str(mine.pk), str(theirs.pk)}


def test_withdrawing_an_authorisation_ends_the_reach_at_the_next_request(
    client_for, key_client, ip_agent, case_in, applicant, enterprise
):
    partner, raw = ip_agent
    case = case_in("submitted")
    assert key_client(raw).get(f"/api/v1/cases/{case.pk}/").status_code == 200

    response = client_for(applicant).delete(f"/api/v1/enterprises/{enterprise.pk}/partners/{partner.pk}/")

    assert response.status_code == 204
    assert_problem(key_client(raw).get(f"/api/v1/cases/{case.pk}/"), 404)
    assert key_client(raw).get("/api/v1/cases/").json()["results"] == []


def test_listing_cases_as_a_partner_costs_a_fixed_number_of_queries(
    key_client, ip_agent, case_in, django_assert_max_num_queries
):
    _partner, raw = ip_agent
    for _ in range(3):
        case_in("submitted")
    client = key_client(raw)
    client.get("/api/v1/me/")  # last_used_at written

    # key, authorisations, the page
    with django_assert_max_num_queries(3):
        assert len(client.get("/api/v1/cases/").json()["results"]) == 3


# --- What a partner does, and the events that name it -----------------------------------


def test_an_ip_agent_records_the_filing_and_a_milestone_as_itself(key_client, ip_agent, case_in):
    partner, raw = ip_agent
    case = case_in("submitted")
    client = key_client(raw)

    filing = client.put(
        f"/api/v1/cases/{case.pk}/filing/",
        {"office": "noip", "application_number": "4-2026-00042", "filed_on": TODAY().isoformat(), "nice_classes": [30]},
        format="json",
    )
    milestone = client.post(
        f"/api/v1/cases/{case.pk}/milestones/",
        {
            "kind": "formality_accepted",
            "occurred_on": TODAY().isoformat(),
            "evidence": SimpleUploadedFile("thong-bao.pdf", PDF, "application/pdf"),
        },
        format="multipart",
    )

    assert filing.status_code == 200, filing.content
    assert milestone.status_code == 201, milestone.content
    events = list(CaseEvent.objects.filter(case=case, action__in=["filing", "milestone"]).order_by("seq"))
    assert [(event.action, event.actor_id) for event in events] == [
        ("filing", partner.user_id),
        ("milestone", partner.user_id),
    ]
    trail = client.get(f"/api/v1/cases/{case.pk}/events/").json()["results"]
    assert trail[-1]["actor"]["username"] == partner.user.username


def test_a_payment_partner_records_the_payment_as_itself(key_client, enterprise, case_in):
    case = case_in("approved")
    partner, raw = make_partner(name="Kho bạc", scopes=["payments:write", "cases:read"], enterprises=[enterprise])
    client = key_client(raw)
    assert client.get(f"/api/v1/cases/{case.pk}/").json()["allowed_actions"] == ["disburse"]

    response = client.post(
        f"/api/v1/cases/{case.pk}/disburse/",
        {"amount": 10_000_000, "paid_on": TODAY().isoformat(), "payment_reference": "UNC-2026-7"},
        format="json",
    )

    assert response.status_code == 200, response.content
    assert response.json()["state"] == "disbursed"
    event = CaseEvent.objects.filter(case=case).order_by("-seq").first()
    assert (event.action, event.actor_id) == ("disburse", partner.user_id)


def test_a_payment_partner_cannot_pay_a_case_it_does_not_reach(
    key_client, case_in, other_applicant, other_enterprise, enterprise
):
    theirs = case_in("approved", member=other_applicant, enterprise=other_enterprise)
    _partner, raw = make_partner(scopes=["payments:write"], enterprises=[enterprise])

    response = key_client(raw).post(
        f"/api/v1/cases/{theirs.pk}/disburse/",
        {"amount": 1_000_000, "paid_on": TODAY().isoformat(), "payment_reference": "UNC-1"},
        format="json",
    )

    assert_problem(response, 404)
    assert Case.objects.get(pk=theirs.pk).state == "approved"


def test_the_services_check_the_scope_too(case_in, enterprise):
    """A view that forgot the table would still be refused by the service."""
    from accounts.roles import grant_partner
    from cases import services as case_services
    from common.exceptions import NotAllowed

    case = case_in("submitted")
    partner, _raw = make_partner(scopes=["cases:read"], enterprises=[enterprise])
    user = User.objects.get(pk=partner.user_id)
    grant_partner(user, partner_services.grant_for(partner.keys.get()))

    with pytest.raises(NotAllowed):
        case_services.require_ip_record(case=case, actor=user)


def test_a_partner_user_without_a_key_may_do_nothing(case_in, enterprise):
    """A task or a shell acting as the partner's user has no scopes and reaches nothing."""
    from cases import selectors as case_selectors

    case_in("submitted")
    partner, _raw = make_partner(enterprises=[enterprise])

    assert not case_selectors.case_list_visible_to(user=User.objects.get(pk=partner.user_id)).exists()


# --- Enterprises authorise partners -------------------------------------------------------


def test_an_owner_authorises_a_partner_and_it_is_recorded(client_for, applicant, enterprise, manager):
    partner = partner_services.partner_create(actor=manager, name="Văn phòng luật Minh Tâm")

    response = client_for(applicant).post(
        f"/api/v1/enterprises/{enterprise.pk}/partners/", {"partner": str(partner.pk)}, format="json"
    )

    assert response.status_code == 201, response.content
    assert response.json()["partner"]["id"] == str(partner.pk)
    listed = client_for(applicant).get(f"/api/v1/enterprises/{enterprise.pk}/partners/").json()["results"]
    assert [row["partner"]["name"] for row in listed] == ["Văn phòng luật Minh Tâm"]
    assert PartnerEvent.objects.filter(partner=partner, action="authorise", actor=applicant).exists()


def test_authorising_twice_is_a_409(client_for, applicant, enterprise, ip_agent):
    partner, _raw = ip_agent

    response = client_for(applicant).post(
        f"/api/v1/enterprises/{enterprise.pk}/partners/", {"partner": str(partner.pk)}, format="json"
    )

    assert assert_problem(response, 409)["code"] == "already_authorised"
    assert Authorisation.objects.filter(partner=partner).count() == 1


def test_a_plain_member_cannot_authorise_a_partner(client_for, enterprise, manager):
    member = UserFactory(username="member")
    add_member(member, enterprise, role=MembershipRole.MEMBER)
    partner = partner_services.partner_create(actor=manager, name="Đại lý")

    response = client_for(member).post(
        f"/api/v1/enterprises/{enterprise.pk}/partners/", {"partner": str(partner.pk)}, format="json"
    )

    assert_problem(response, 403)
    assert not Authorisation.objects.exists()


def test_another_firm_cannot_see_or_change_an_enterprises_partners(client_for, other_applicant, enterprise, ip_agent):
    partner, _raw = ip_agent
    client = client_for(other_applicant)

    assert_problem(client.get(f"/api/v1/enterprises/{enterprise.pk}/partners/"), 404)
    assert_problem(
        client.post(f"/api/v1/enterprises/{enterprise.pk}/partners/", {"partner": str(partner.pk)}, format="json"),
        404,
    )
    assert_problem(client.delete(f"/api/v1/enterprises/{enterprise.pk}/partners/{partner.pk}/"), 404)
    assert Authorisation.objects.filter(revoked_at__isnull=True).count() == 1


def test_officers_see_an_enterprises_partners_and_managers_may_withdraw_them(
    client_for, officer, manager, enterprise, ip_agent
):
    partner, _raw = ip_agent

    assert len(client_for(officer).get(f"/api/v1/enterprises/{enterprise.pk}/partners/").json()["results"]) == 1
    assert_problem(client_for(officer).delete(f"/api/v1/enterprises/{enterprise.pk}/partners/{partner.pk}/"), 403)
    assert client_for(manager).delete(f"/api/v1/enterprises/{enterprise.pk}/partners/{partner.pk}/").status_code == 204


@pytest.mark.parametrize(
    "body",
    [{"partner": "00000000-0000-0000-0000-000000000000"}, {"partner": "nope"}, {}],
)
def test_authorising_an_unknown_partner_changes_nothing(client_for, applicant, enterprise, body):
    response = client_for(applicant).post(f"/api/v1/enterprises/{enterprise.pk}/partners/", body, format="json")

    assert response.status_code in (400, 404)
    assert_problem(response, response.status_code)
    assert not Authorisation.objects.exists()


def test_a_deactivated_partner_cannot_be_found_or_authorised(client_for, applicant, enterprise, manager):
    partner = partner_services.partner_create(actor=manager, name="Cũ")
    partner_services.partner_update(actor=manager, partner=partner, data={"is_active": False})

    response = client_for(applicant).post(
        f"/api/v1/enterprises/{enterprise.pk}/partners/", {"partner": str(partner.pk)}, format="json"
    )

    assert_problem(response, 404)
    assert str(partner.pk) not in {
        row["id"] for row in client_for(applicant).get("/api/v1/partners/").json()["results"]
    }


def test_a_partner_sees_itself_only(key_client, ip_agent, portal):
    partner, raw = ip_agent

    listed = key_client(raw).get("/api/v1/partners/").json()["results"]

    assert [row["id"] for row in listed] == [str(partner.pk)]
    assert_problem(key_client(raw).get(f"/api/v1/partners/{portal[0].pk}/"), 404)


def test_the_partners_trail_lists_who_did_what(client_for, manager, ip_agent):
    partner, _raw = ip_agent

    trail = client_for(manager).get(f"/api/v1/partners/{partner.pk}/events/").json()["results"]

    assert [row["action"] for row in trail] == ["create", "key_create", "authorise"]
    assert "digest" not in str(trail)


def test_a_partner_user_signed_in_with_a_token_has_no_scopes(client_for, case_in):
    """Partners sign in with keys; a token of a partner-group user opens nothing but /me/."""
    from accounts.roles import Role

    case_in("submitted")
    client = client_for(UserFactory(username="partner-by-password", roles=[Role.PARTNER]))

    assert client.get("/api/v1/me/").status_code == 200
    assert_problem(client.get("/api/v1/cases/"), 403)


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("get", "cost-lines/"),
        ("put", "cost-lines/"),
        ("post", "documents/"),
        ("post", "claim-allowances/"),
        ("patch", ""),
        ("delete", ""),
    ],
)
def test_case_endpoints_made_for_people_are_closed_to_partners_even_on_their_cases(
    key_client, ip_agent, case_in, method, path
):
    """Closed by endpoint, whatever the case: the answer is the same for any id."""
    _partner, raw = ip_agent
    case = case_in("submitted")
    version = Case.objects.get(pk=case.pk).version

    body = assert_problem(getattr(key_client(raw), method)(f"/api/v1/cases/{case.pk}/{path}", {}, format="json"), 403)

    assert body["detail"] == "Partner systems cannot use this endpoint."
    assert Case.objects.get(pk=case.pk).version == version


def test_a_partner_with_the_read_scope_reads_the_programmes(key_client, portal, programme):
    _partner, raw = portal

    response = key_client(raw).get("/api/v1/programmes/")

    assert [row["code"] for row in response.json()["results"]] == [programme.code]


@pytest.mark.parametrize(
    ("method", "path"),
    [("get", "cost-lines/"), ("post", "submit/"), ("put", "cost-lines/"), ("get", "")],
)
def test_a_case_a_partner_cannot_see_is_a_404_even_where_partners_may_not_go(
    key_client, enterprise, case_in, other_applicant, other_enterprise, method, path
):
    """Invisible objects are 404, never 403 (API.md), whatever the endpoint or the scope."""
    theirs = case_in("submitted", member=other_applicant, enterprise=other_enterprise)
    _partner, raw = make_partner(scopes=["payments:write"], enterprises=[enterprise])
    client = key_client(raw)

    for case_id in (theirs.pk, "00000000-0000-0000-0000-000000000000"):
        body = assert_problem(getattr(client, method)(f"/api/v1/cases/{case_id}/{path}", {}, format="json"), 404)
        assert body["code"] == "case_not_found"


def test_a_partner_sees_no_enterprise(key_client, ip_agent, enterprise):
    _partner, raw = ip_agent

    assert_problem(key_client(raw).get(f"/api/v1/enterprises/{enterprise.pk}/"), 404)
    assert_problem(key_client(raw).get(f"/api/v1/enterprises/{enterprise.pk}/partners/"), 404)


def test_the_partner_lists_cost_a_fixed_number_of_queries(
    client_for, manager, applicant, enterprise, django_assert_num_queries
):
    for number in range(4):
        _partner, _raw = make_partner(name=f"Đại lý {number}", enterprises=[enterprise], created_by=manager)
    people = client_for(manager)
    owner = client_for(applicant)
    people.get("/api/v1/me/")
    owner.get("/api/v1/me/")

    # token, principal, the page (with each partner's user)
    with django_assert_num_queries(3):
        assert len(people.get("/api/v1/partners/").json()["results"]) == 4
    # token, principal, the enterprise, the page (with partners, their users and granters)
    with django_assert_num_queries(4):
        assert len(owner.get(f"/api/v1/enterprises/{enterprise.pk}/partners/").json()["results"]) == 4


def test_a_new_partner_has_its_address_in_location(client_for, manager):
    response = _create_partner(client_for(manager))

    assert response["Location"].endswith(f"/api/v1/partners/{response.json()['id']}/")


def test_a_payment_partner_checks_the_checklist_before_paying(key_client, enterprise, case_in):
    case = case_in("approved")
    _partner, raw = make_partner(name="Kho bạc", scopes=["payments:write", "cases:read"], enterprises=[enterprise])

    response = key_client(raw).get(f"/api/v1/cases/{case.pk}/checklist/")

    assert response.status_code == 200, response.content
    assert "complete_for_payment" in response.json()
