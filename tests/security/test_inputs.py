"""No input makes a 500 (issue 12, finding 6 and the input bullets of 11): dates beyond what
the database holds, lone surrogates in JSON, bytes that are not UTF-8 in `Authorization`,
garbage cursors, floats for whole numbers, dates outside any sane range. Each is a 4xx
problem naming what is wrong; a property test throws arbitrary strings and dates at every
filter and at the text fields of a few inputs."""

from __future__ import annotations

import base64
import datetime as dt
import itertools
import json
from typing import Any
from unittest import mock
from urllib.parse import quote

import pytest
from django.db import transaction
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from rest_framework.test import APIClient

from api import serializers as s
from api.webhooks import WebhookCreateInput
from cases.filters import CaseFilter
from cases.models import CalendarOverride, Case, Programme
from tests.problems import PROBLEM, assert_field_errors, assert_problem
from webhooks.filters import DeliveryFilter
from webhooks.models import Subscription

pytestmark = pytest.mark.django_db

PUBLIC_URL = "https://1.2.3.4/ipsupport/hooks"  # a public address: nothing is sent in these tests


def _post_json(client: APIClient, url: str, body: Any, **headers: str) -> Any:
    """JSON as a client may send it: `\\ud800` escapes survive `ensure_ascii` (DRF's own
    renderer would fail to encode a lone surrogate before the request is made)."""
    return client.generic("POST", url, json.dumps(body), content_type="application/json", **headers)


def _draft_body(enterprise: Any, **overrides: Any) -> dict[str, Any]:
    body = {
        "enterprise": str(enterprise.pk),
        "programme": "shtt-test",
        "support_type": "trademark",
        "title": "Nhãn hiệu cà phê",
        "requested_amount": 1_000_000,
        "details": {},
    }
    body.update(overrides)
    return body


# --- Finding 6: five 500s ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("parameter", "value"),
    [("submitted_after", "0001-01-01"), ("submitted_before", "9999-12-31T23:59:59-12:00")],
)
def test_a_submitted_filter_beyond_the_years_the_database_holds_is_400_naming_it(client_for, officer, parameter, value):
    response = client_for(officer).get("/api/v1/cases/", {parameter: value})

    assert_field_errors(response, parameter)


def test_a_lone_surrogate_in_details_is_400_naming_details(client_for, applicant, enterprise, programme):
    response = _post_json(client_for(applicant), "/api/v1/cases/", _draft_body(enterprise, details={"a": "\ud800"}))

    body = assert_field_errors(response, "details")
    assert body["errors"][0]["code"] == "surrogate"
    assert not Case.objects.exists()


@pytest.mark.parametrize(
    "overrides",
    [{"title": "x\udfff"}, {"details": {"\udc00": 1}}],
    ids=["text-field", "details-key"],
)
def test_a_lone_surrogate_anywhere_in_a_body_is_400_naming_the_field(
    client_for, applicant, enterprise, programme, overrides
):
    response = _post_json(client_for(applicant), "/api/v1/cases/", _draft_body(enterprise, **overrides))

    assert_field_errors(response, *overrides)
    assert not Case.objects.exists()


def test_a_lone_surrogate_in_a_nested_input_names_the_nested_field(client_for, applicant, enterprise, programme):
    line = {
        "description": "Lệ phí \ud83d",
        "amount": 1_000_000,
        "invoice_number": "0001",
        "invoice_date": dt.date.today().isoformat(),
        "payee": "Cục SHTT",
    }
    response = _post_json(client_for(applicant), "/api/v1/cases/", _draft_body(enterprise, cost_lines=[line]))

    body = assert_problem(response, 400)
    assert [error["field"] for error in body["errors"]] == ["cost_lines[0].description"], body


def test_a_lone_surrogate_in_an_unknown_field_name_is_400(client_for, applicant, enterprise, programme):
    response = _post_json(client_for(applicant), "/api/v1/cases/", {**_draft_body(enterprise), "t\ud800": 1})

    body = assert_problem(response, 400)
    assert len(body["errors"]) == 1
    assert not Case.objects.exists()


def test_a_lone_surrogate_in_a_body_sent_with_an_idempotency_key_is_400(client_for, applicant, enterprise, programme):
    client = client_for(applicant)
    body = _draft_body(enterprise, details={"a": "\ud800"})

    first = _post_json(client, "/api/v1/cases/", body, HTTP_IDEMPOTENCY_KEY="surrogate-1")
    again = _post_json(client, "/api/v1/cases/", body, HTTP_IDEMPOTENCY_KEY="surrogate-1")

    assert assert_field_errors(first, "details") == assert_field_errors(again, "details")
    assert not Case.objects.exists()


@pytest.mark.parametrize("credential", ["Bearer \xff\xfe\xfd", "Bearer ipk_\xe9\x80", "Token \xc3"])
def test_bytes_that_are_not_utf8_in_authorization_are_401(credential, db):
    # WSGI hands header bytes over as latin-1 text; DRF encodes them back to the same bytes.
    client = APIClient(HTTP_ACCEPT_LANGUAGE="en")

    assert_problem(client.get("/api/v1/cases/", HTTP_AUTHORIZATION=credential), 401)
    assert_problem(
        client.post("/api/v1/cases/", {}, format="json", HTTP_AUTHORIZATION=credential, HTTP_IDEMPOTENCY_KEY="k-1"),
        401,
    )


# --- Item 11: cursors, page sizes, dates, ports, whole numbers -----------------------------------


def _b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


LISTS = [
    "/api/v1/cases/",
    "/api/v1/programmes/",
    "/api/v1/enterprises/",
    "/api/v1/calendar/overrides/",
    "/api/v1/partners/",
    "/api/v1/webhooks/",
]
GARBAGE_CURSORS = ["%%%", "!!", _b64("foo"), _b64("o=0"), _b64("x=1"), _b64("r=2"), _b64("o=-5"), "cD0x==="]


@pytest.mark.parametrize("url", LISTS)
@pytest.mark.parametrize("cursor", GARBAGE_CURSORS)
def test_a_garbage_cursor_is_400_on_every_list(client_for, manager, url, cursor):
    response = client_for(manager).get(url, {"cursor": cursor})

    body = assert_field_errors(response, "cursor")
    assert body["errors"][0]["code"] == "invalid_cursor"


def test_the_cursors_a_list_gives_still_page_both_ways(client_for, manager):
    for day in range(1, 8):
        CalendarOverride.objects.create(date=dt.date(2026, 6, day), working=False, note="x", created_by=manager)
    client = client_for(manager)
    seen: list[str] = []
    page = client.get("/api/v1/calendar/overrides/", {"page_size": 3}).json()
    seen += [row["date"] for row in page["results"]]
    while page["next"]:
        page = client.get(page["next"]).json()
        seen += [row["date"] for row in page["results"]]
    assert seen == [f"2026-06-0{day}" for day in range(1, 8)]
    back = client.get(page["previous"]).json()
    assert [row["date"] for row in back["results"]] == ["2026-06-04", "2026-06-05", "2026-06-06"]


@pytest.mark.parametrize("size", ["0", "101", "1000", "-1", "abc", "2.5"])
@pytest.mark.parametrize("url", LISTS)
def test_a_page_size_out_of_range_names_page_size(client_for, manager, url, size):
    response = client_for(manager).get(url, {"page_size": size})

    assert_field_errors(response, "page_size")


def test_a_page_size_out_of_range_names_page_size_even_with_a_cursor(client_for, manager):
    client = client_for(manager)
    cursor = _b64("p=2026-06-01")
    assert_field_errors(client.get("/api/v1/calendar/overrides/", {"page_size": "500", "cursor": cursor}), "page_size")


@pytest.mark.parametrize(
    ("field", "value"),
    [("opens_on", "0001-01-01"), ("closes_on", "9999-12-31"), ("opens_on", "2025-06-01"), ("closes_on", "2029-01-01")],
)
def test_programme_dates_are_bound_to_the_programme_year(client_for, manager, programme, field, value):
    programme.year, programme.opens_on, programme.closes_on = 2027, dt.date(2027, 1, 1), dt.date(2027, 12, 31)
    programme.save()
    response = client_for(manager).patch(f"/api/v1/programmes/{programme.code}/", {field: value}, format="json")

    body = assert_field_errors(response, field)
    assert body["errors"][0]["code"] == "out_of_range"
    programme.refresh_from_db()
    assert (programme.opens_on, programme.closes_on) == (dt.date(2027, 1, 1), dt.date(2027, 12, 31))


def test_a_programme_may_open_the_year_before_and_close_the_year_after(client_for, manager, programme):
    programme.year = 2027
    programme.save()
    response = client_for(manager).patch(
        f"/api/v1/programmes/{programme.code}/",
        {"opens_on": "2026-11-15", "closes_on": "2028-01-31"},
        format="json",
    )

    assert response.status_code == 200, response.content


def test_changing_only_the_year_checks_the_dates_it_keeps(client_for, manager, programme):
    programme.year, programme.opens_on, programme.closes_on = 2027, dt.date(2027, 1, 1), dt.date(2027, 12, 31)
    programme.save()
    response = client_for(manager).patch(f"/api/v1/programmes/{programme.code}/", {"year": 2040}, format="json")

    assert_field_errors(response, "opens_on", "closes_on")


@pytest.mark.parametrize("date", ["0001-01-01", "9999-12-31", "1999-12-31", "2101-01-01"])
def test_a_calendar_override_outside_a_sane_range_is_400(client_for, manager, date):
    response = client_for(manager).post(
        "/api/v1/calendar/overrides/", {"date": date, "working": False, "note": "Nghỉ"}, format="json"
    )

    body = assert_field_errors(response, "date")
    assert body["errors"][0]["code"] == "out_of_range"
    assert not CalendarOverride.objects.exists()


@pytest.fixture
def agent_client(ip_agent, key_client):  # type: ignore[no-untyped-def]
    _partner, raw = ip_agent
    return key_client(raw)


@pytest.mark.parametrize("url", ["https://1.2.3.4:0/hooks", "https://1.2.3.4:00/hooks"])
def test_a_webhook_url_with_port_0_is_refused(agent_client, url):
    response = agent_client.post("/api/v1/webhooks/", {"url": url, "event_types": ["case.updated"]}, format="json")

    body = assert_field_errors(response, "url")
    assert body["errors"][0]["code"] == "invalid_port"
    assert not Subscription.objects.exists()


def test_a_webhook_url_with_an_explicit_port_is_accepted(agent_client):
    response = agent_client.post(
        "/api/v1/webhooks/", {"url": "https://1.2.3.4:8443/hooks", "event_types": ["case.updated"]}, format="json"
    )

    assert response.status_code == 201, response.content


@pytest.mark.parametrize("amount", ["1000000.0", "1e6", '"1000000"', "1000000.5"])
def test_a_whole_amount_sent_as_a_float_or_a_string_is_refused(client_for, applicant, enterprise, programme, amount):
    body = json.dumps(_draft_body(enterprise)).replace("1000000", amount)
    response = client_for(applicant).generic("POST", "/api/v1/cases/", body, content_type="application/json")

    body = assert_field_errors(response, "requested_amount")
    assert body["errors"][0]["code"] == "invalid"
    assert not Case.objects.exists()


def test_a_float_inside_a_list_of_whole_numbers_is_refused(client_for, officer, case_in):
    case = case_in("in_review")
    response = client_for(officer).put(
        f"/api/v1/cases/{case.pk}/filing/",
        {"office": "noip", "application_number": "4-2025-20619", "filed_on": "2025-01-02", "nice_classes": [30.0]},
        format="json",
    )

    assert_field_errors(response, "nice_classes")


def test_a_programme_budget_of_a_float_is_refused(client_for, manager, programme):
    response = client_for(manager).patch(
        f"/api/v1/programmes/{programme.code}/", {"budget_total": 60_000_000.0}, format="json"
    )

    assert_field_errors(response, "budget_total")
    assert Programme.objects.get(pk=programme.pk).budget_total == programme.budget_total


# --- The property: arbitrary strings and dates never make a 5xx ------------------------------------

# Every code point, with lone surrogates, NUL and other controls drawn often (Hypothesis
# leaves surrogates out unless asked, and 2,048 of 1.1 million code points are rarely drawn).
TEXT = st.text(
    alphabet=st.one_of(
        st.characters(exclude_categories=()),
        st.characters(categories=["Cs", "Cc"]),
        st.sampled_from("\u202e\ufeff\uffff-:.T+Z %"),
    ),
    max_size=40,
)
_OFFSETS = st.integers(-(24 * 60 - 1), 24 * 60 - 1).map(
    lambda m: f"{'+' if m >= 0 else '-'}{abs(m) // 60:02d}:{abs(m) % 60:02d}"
)
DATES = st.one_of(
    st.dates().map(dt.date.isoformat),
    st.builds(lambda moment, zone: moment.isoformat() + zone, st.datetimes(), st.sampled_from(["", "Z"]) | _OFFSETS),
    st.sampled_from(["0000-01-01", "10000-01-01", "2026-02-30", "9999-12-31T23:59:59-23:59", "1-1-1"]),
)
VALUES = st.one_of(TEXT, DATES)
# Bounded so the whole module runs in seconds; no example database written into the tree.
SETTINGS = settings(max_examples=15, deadline=None, suppress_health_check=list(HealthCheck), database=None)
KNOWN_BAD = ["\ud800", "a\udfffb", "\x00", "0001-01-01", "9999-12-31T23:59:59-12:00", "0001-01-01T00:00:00+23:59"]


def _known_bad(test: Any) -> Any:
    """The values that made 500s before, tried on every target before the random ones."""
    for value in KNOWN_BAD:
        test = example(value=value)(test)
    return test


FILTERS = [
    *[("/api/v1/cases/", name) for name in CaseFilter.base_filters],
    *[("/api/v1/webhooks/{subscription}/deliveries/", name) for name in DeliveryFilter.base_filters],
    *[("/api/v1/cases/", name) for name in ("ordering", "cursor", "page_size")],
    ("/api/v1/programmes/", "cursor"),
]


def _assert_handled(response: Any) -> None:
    assert response.status_code < 500, response.content
    if response.status_code >= 400:
        assert response["Content-Type"].startswith(PROBLEM), response.content


def _query(name: str, value: str) -> str:
    # Encoded by hand: a lone surrogate goes out as the bytes it would be (not UTF-8).
    return f"{name}={quote(value.encode('utf-8', 'surrogatepass'))}"


@pytest.mark.parametrize(("url", "name"), FILTERS)
def test_no_filter_value_makes_a_server_error(manager, client_for, ip_agent, url, name):
    subscription = Subscription.objects.create(
        partner=ip_agent[0], url=PUBLIC_URL, event_types=["case.updated"], secret_encrypted="unused"
    )
    client = client_for(manager)
    url = url.format(subscription=subscription.pk)

    @SETTINGS
    @_known_bad
    @given(value=VALUES)
    def probe(value: str) -> None:
        _assert_handled(client.get(f"{url}?{_query(name, value)}"))

    probe()


def _text_fields(serializer: type[s.StrictInput]) -> list[str]:
    return [
        name
        for name, field in serializer().fields.items()
        if type(field) in (s.serializers.CharField, s.serializers.SlugField, s.serializers.RegexField)
    ]


# (persona, URL, input serializer, a valid body): every text field of the serializer is probed
# with that body, one field at a time, each request with an Idempotency-Key of its own.
BODIES: list[tuple[str, str, type[s.StrictInput], dict[str, Any]]] = [
    ("applicant", "/api/v1/cases/", s.CaseCreateInput, {}),
    ("applicant", "/api/v1/enterprises/", s.EnterpriseCreateInput, {}),
    ("manager", "/api/v1/calendar/overrides/", s.CalendarOverrideInput, {"date": "2026-06-02", "working": False}),
    ("anonymous", "/api/v1/auth/token/", s.TokenCreateInput, {}),
    ("partner", "/api/v1/webhooks/", WebhookCreateInput, {"url": PUBLIC_URL, "event_types": ["case.updated"]}),
]
TARGETS = [
    (persona, url, name, base)
    for persona, url, serializer, base in BODIES
    for name in [*_text_fields(serializer), *(["details"] if serializer is s.CaseCreateInput else [])]
] + [("manager", "/api/v1/calendar/overrides/", "date", {"working": False, "note": "x"})]


@pytest.mark.parametrize(("persona", "url", "name", "base"), TARGETS)
def test_no_text_in_a_body_makes_a_server_error(client_for, request, enterprise, programme, persona, url, name, base):
    user = None if persona == "anonymous" else request.getfixturevalue(persona)
    client = client_for(user)
    defaults = {
        "/api/v1/cases/": _draft_body(enterprise),
        "/api/v1/enterprises/": {
            "name": "Công ty",
            "tax_code": "0312345678",
            "legal_form": "enterprise",
            "province_code": "68",
            "ward_code": "24820",
            "address": "Đà Lạt",
        },
        "/api/v1/auth/token/": {"username": "applicant", "password": "wrong"},
    }
    keys = itertools.count()

    @SETTINGS
    @_known_bad
    @given(value=VALUES)
    def probe(value: str) -> None:
        body = {**defaults.get(url, {}), **base, name: {value: value} if name == "details" else value}
        # Each example starts from the same rows (a created draft would count against the
        # next); no DNS from tests.
        with transaction.atomic(), mock.patch("webhooks.guard.socket.getaddrinfo", side_effect=OSError):
            _assert_handled(_post_json(client, url, body, HTTP_IDEMPOTENCY_KEY=f"probe-{next(keys)}"))
            transaction.set_rollback(True)

    probe()


def test_the_probes_cover_the_inputs_they_name():
    # A serializer that loses its text fields would make the property test vacuous.
    names = {(url, name) for _persona, url, name, _base in TARGETS}
    assert {("/api/v1/cases/", "title"), ("/api/v1/cases/", "details"), ("/api/v1/webhooks/", "description")} <= names
    assert {name for _url, name in FILTERS} >= {"submitted_after", "submitted_before", "due_before", "search"}
