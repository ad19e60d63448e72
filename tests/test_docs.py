"""The committed contract documents must match the code that serves them."""

from __future__ import annotations

from pathlib import Path

import pytest
from django.core.management import call_command

from cases.management.commands.workflow_doc import render

ROOT = Path(__file__).resolve().parent.parent


def test_committed_openapi_schema_is_current(tmp_path):
    generated = tmp_path / "openapi.yaml"
    call_command("spectacular", "--lang", "en", "--validate", "--fail-on-warn", "--file", str(generated))
    committed = (ROOT / "docs" / "openapi.yaml").read_text()
    assert generated.read_text() == committed, "docs/openapi.yaml is stale: run `make schema` and commit it"


def test_committed_workflow_document_matches_the_table():
    committed = (ROOT / "docs" / "workflow.md").read_text()
    assert render() == committed, "docs/workflow.md is stale: run `make schema` and commit it"


@pytest.mark.parametrize("action", ["submit", "receive", "request-supplement", "approve", "assign"])
def test_every_action_appears_in_the_schema(action):
    schema = (ROOT / "docs" / "openapi.yaml").read_text()
    assert f"/api/v1/cases/{{id}}/{action}/:" in schema
