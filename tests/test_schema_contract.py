"""The schema is the contract clients are generated from: every operation named and
summarised in ASCII, every refusal a Problem, each body in exactly the media type the
operation accepts, and the same document whatever the caller's language."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from api.schema import PROBLEM_MEDIA_TYPE
from tests.factories import PASSWORD
from tests.problems import assert_field_errors

ROOT = Path(__file__).resolve().parent.parent
SCHEMA = yaml.safe_load((ROOT / "docs" / "openapi.yaml").read_text())
METHODS = ("get", "put", "post", "patch", "delete")
UPLOADS = {("post", "/api/v1/cases/{id}/documents/"), ("post", "/api/v1/cases/{id}/milestones/")}
OPERATIONS = [
    (method, path, operation)
    for path, item in SCHEMA["paths"].items()
    for method, operation in item.items()
    if method in METHODS
]
IDS = [f"{method} {path}" for method, path, _operation in OPERATIONS]


def test_the_schema_is_openapi_3_1_with_the_webhooks_partners_receive():
    assert SCHEMA["openapi"] == "3.1.0"
    assert set(SCHEMA["webhooks"]) == {
        "case.state_changed",
        "case.document_added",
        "case.milestone_recorded",
        "case.updated",
        "webhook.ping",
    }
    for item in SCHEMA["webhooks"].values():
        headers = {parameter["name"] for parameter in item["post"]["parameters"]}
        assert headers == {"webhook-id", "webhook-timestamp", "webhook-signature"}


@pytest.mark.parametrize(("method", "path", "operation"), OPERATIONS, ids=IDS)
def test_every_operation_has_an_ascii_id_and_a_summary(method, path, operation):
    assert operation.get("summary"), f"{method} {path} has no summary"
    assert operation["operationId"].isascii()
    assert operation["operationId"].replace("_", "").isalnum()


def test_component_names_are_ascii_identifiers():
    for name in SCHEMA["components"]["schemas"]:
        assert name.isascii(), name
        assert name.isidentifier(), name


def _walk(node: Any, path: str = "") -> Any:
    if isinstance(node, dict):
        for key, value in node.items():
            yield path, key, value
            if key == "properties" and isinstance(value, dict):
                for name, schema in value.items():
                    yield from _walk(schema, f"{path}/properties/{name}")
            else:
                yield from _walk(value, f"{path}/{key}")
    elif isinstance(node, list):
        for index, item in enumerate(node):
            yield from _walk(item, f"{path}[{index}]")


def test_no_schema_carries_a_title_a_generator_would_name_a_class_after():
    titled = [path for path, key, _value in _walk(SCHEMA["components"]) if key == "title"]
    titled += [path for path, key, _value in _walk(SCHEMA["paths"]) if key == "title"]
    assert titled == []


@pytest.mark.parametrize(("method", "path", "operation"), OPERATIONS, ids=IDS)
def test_every_error_response_is_a_problem(method, path, operation):
    errors = {code: response for code, response in operation["responses"].items() if code[0] in "45"}
    assert errors, f"{method} {path} declares no refusal"
    for code, response in errors.items():
        assert response["description"], f"{method} {path} {code}"
        assert response["content"] == {PROBLEM_MEDIA_TYPE: {"schema": {"$ref": "#/components/schemas/Problem"}}}


@pytest.mark.parametrize(("method", "path", "operation"), OPERATIONS, ids=IDS)
def test_a_body_is_declared_in_the_one_media_type_the_operation_accepts(method, path, operation):
    if "requestBody" not in operation:
        return
    media_types = set(operation["requestBody"]["content"])
    expected = {"multipart/form-data"} if (method, path) in UPLOADS else {"application/json"}
    assert media_types == expected
    assert "415" in operation["responses"]


@pytest.mark.parametrize(("method", "path", "operation"), OPERATIONS, ids=IDS)
def test_the_refusals_that_follow_from_how_an_operation_is_reached_are_declared(method, path, operation):
    responses = operation["responses"]
    headers = {p["name"] for p in operation.get("parameters", []) if p["in"] == "header"}
    if operation.get("security"):
        assert {"401", "403"} <= set(responses)
        assert "WWW-Authenticate" in responses["401"]["headers"]
    if method == "post" and operation.get("security"):
        assert "Idempotency-Key" in headers
        assert {"409", "422"} <= set(responses)
    if "If-Match" in headers:
        assert "ETag" in responses["412"]["headers"]
    if "{" in path:
        assert "404" in responses
    if method != "get":
        assert "413" in responses, "api/bodies.py refuses any body over its limit"
    assert "Retry-After" in responses["503"]["headers"], "a lock not had in time is a 503 busy"


def test_the_token_endpoint_declares_a_wrong_password():
    responses = SCHEMA["paths"]["/api/v1/auth/token/"]["post"]["responses"]
    assert {"400", "401", "429"} <= set(responses)
    assert "Retry-After" in responses["429"]["headers"]


def test_the_login_promises_no_replay_since_the_middleware_keys_retries_by_the_caller():
    operation = SCHEMA["paths"]["/api/v1/auth/token/"]["post"]
    assert "Idempotency-Key" not in {p["name"] for p in operation.get("parameters", [])}
    assert not {"409", "422"} & set(operation["responses"])


@pytest.mark.django_db
def test_a_login_retried_with_an_idempotency_key_is_not_replayed(client, applicant):
    body = {"username": "applicant", "password": PASSWORD}
    headers = {"HTTP_IDEMPOTENCY_KEY": "login-1", "content_type": "application/json"}
    first, second = (client.post("/api/v1/auth/token/", body, **headers) for _ in range(2))

    assert (first.status_code, second.status_code) == (200, 200)
    assert "Idempotent-Replayed" not in second
    assert first.json()["token"] != second.json()["token"]


def test_downloads_declare_the_media_types_they_serve():
    from cases.files import ALLOWED

    operation = SCHEMA["paths"]["/api/v1/cases/{id}/documents/{document_id}/download/"]["get"]
    assert set(operation["responses"]["200"]["content"]) == set(ALLOWED)


def test_the_creation_event_declares_no_state_before_it():
    from_state = SCHEMA["components"]["schemas"]["CaseEventOutput"]["properties"]["from_state"]
    kinds = from_state.get("oneOf") or from_state.get("anyOf")
    assert {"$ref": "#/components/schemas/CaseStateEnum"} in kinds
    assert any(kind.get("type") == "null" or kind.get("$ref") == "#/components/schemas/NullEnum" for kind in kinds)


@pytest.mark.django_db
@pytest.mark.parametrize("language", [None, "vi", "en", "vi-VN,vi;q=0.9"])
def test_the_served_schema_is_the_committed_one_whatever_the_language(client, language):
    headers = {"HTTP_ACCEPT_LANGUAGE": language} if language else {}
    response = client.get("/api/v1/schema/", **headers)
    assert response.status_code == 200
    assert response["Content-Language"] == "en"
    assert response.content.decode() == (ROOT / "docs" / "openapi.yaml").read_text()


@pytest.mark.django_db
@pytest.mark.parametrize("language", ["fr", "", "vi-VN", "x" * 200])
def test_a_schema_in_a_language_the_api_does_not_speak_is_refused(client, language):
    response = client.get(f"/api/v1/schema/?lang={language}")

    assert_field_errors(response, "lang")


@pytest.mark.django_db
def test_the_vietnamese_schema_differs_only_in_its_words(client):
    served = yaml.safe_load(client.get("/api/v1/schema/?lang=vi").content)
    assert list(served["components"]["schemas"]) == list(SCHEMA["components"]["schemas"])
    assert [op["operationId"] for _m, _p, op in OPERATIONS] == [
        operation["operationId"]
        for item in served["paths"].values()
        for method, operation in item.items()
        if method in METHODS
    ]
    enums = {name: schema.get("enum") for name, schema in SCHEMA["components"]["schemas"].items()}
    assert enums == {name: schema.get("enum") for name, schema in served["components"]["schemas"].items()}
    # It is translated: the labels of the states, for one.
    state = yaml.safe_dump(served["components"]["schemas"]["CaseStateEnum"], allow_unicode=True)
    assert "Đang thẩm định" in state or "Nháp" in state
