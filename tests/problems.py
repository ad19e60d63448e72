"""Assertions on problem+json (RFC 9457) responses, shared by the API tests."""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

import yaml
from jsonschema import Draft202012Validator

PROBLEM = "application/problem+json"
SCHEMA_FILE = Path(__file__).resolve().parent.parent / "docs" / "openapi.yaml"


@cache
def problem_validator() -> Draft202012Validator:
    """The committed schema's `Problem` component, which every error must satisfy."""
    schemas = yaml.safe_load(SCHEMA_FILE.read_text())["components"]["schemas"]
    return Draft202012Validator({"$ref": "#/components/schemas/Problem", "components": {"schemas": schemas}})


def assert_problem(response: Any, status: int) -> dict[str, Any]:
    """The response is an RFC 9457 problem with `status`; returns its body."""
    assert response.status_code == status, response.content
    assert response["Content-Type"].startswith(PROBLEM)
    body = json.loads(response.content)
    for key in ("type", "title", "status", "detail"):
        assert key in body, f"{key} missing from {body}"
    assert body["status"] == status
    assert body["title"]
    problem_validator().validate(body)
    return body  # type: ignore[no-any-return]


def assert_field_errors(response: Any, *fields: str) -> dict[str, Any]:
    """A 400 problem whose `errors` name exactly `fields`, each with a code and message."""
    body = assert_problem(response, 400)
    assert body["errors"], body
    for error in body["errors"]:
        assert error["code"]
        assert error["message"]
    assert {error["field"] for error in body["errors"]} == set(fields), body["errors"]
    return body
