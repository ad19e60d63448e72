"""The client a firm's developer generates from the schema the server serves.

Generated once per test session (per xdist worker) with the pinned openapi-python-client,
into a package of its own whose name is unique to the run, and imported from there.
"""

from __future__ import annotations

import importlib
import json
import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType

import httpx
import pytest

BIN = Path(sys.executable).parent
GENERATOR = BIN / "openapi-python-client"
# The configuration the README tells client developers to use (documents' media types as bytes).
GENERATOR_CONFIG = Path(__file__).resolve().parents[2] / "docs" / "client" / "openapi-python-client.yaml"


@dataclass(frozen=True)
class GeneratedClient:
    """The generated package: `Client`/`AuthenticatedClient`, `models`, `types`, and
    `op("cases_create")` for the module of one operation (found by its operationId,
    whatever tag files it)."""

    name: str
    package: ModuleType
    directory: Path

    @property
    def models(self) -> ModuleType:
        return importlib.import_module(f"{self.name}.models")

    @property
    def types(self) -> ModuleType:
        return importlib.import_module(f"{self.name}.types")

    def op(self, operation: str) -> ModuleType:
        found = sorted((self.directory / self.name / "api").glob(f"*/{operation}.py"))
        assert len(found) == 1, f"the generated client has {len(found)} modules for the operation {operation}"
        tag = found[0].parent.name
        return importlib.import_module(f"{self.name}.api.{tag}.{operation}")


@pytest.fixture(scope="session")
def served_schema(django_db_setup, django_db_blocker, live_server, tmp_path_factory) -> Path:  # type: ignore[no-untyped-def]
    """`GET /api/v1/schema/?format=json` as a client developer downloads it: no token, no
    language header."""
    path = tmp_path_factory.mktemp("contract") / "openapi.json"
    with django_db_blocker.unblock():
        response = httpx.get(f"{live_server.url}/api/v1/schema/", params={"format": "json"}, timeout=60)
    assert response.status_code == 200, response.text
    assert response.headers["Content-Type"].startswith("application/"), response.headers["Content-Type"]
    json.loads(response.content)  # the JSON the format asks for, not YAML
    path.write_bytes(response.content)
    return path


@pytest.fixture(scope="session")
def generated_client(served_schema: Path) -> Iterator[GeneratedClient]:
    """Generates the client as `make client` does, from the served schema; fails with the
    generator's output if it warns (an endpoint or a model it skips) or fails."""
    name = f"ipsupport_client_{uuid.uuid4().hex[:12]}"
    directory = served_schema.parent
    result = subprocess.run(
        [
            str(GENERATOR),
            "generate",
            "--path",
            str(served_schema),
            "--output-path",
            str(directory / name),
            "--meta",
            "none",
            "--config",
            str(GENERATOR_CONFIG),
            "--fail-on-warning",
        ],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
        # As `make client` runs it: the generator's post-hooks format the code with the
        # virtualenv's ruff, so a warning can only be about the schema.
        env={**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}"},
    )
    output = f"{result.stdout}\n{result.stderr}"
    problems = ("Warning", "Error", "Skipping", "Unable", "Cannot", "Could not")
    if result.returncode != 0 or any(word in output for word in problems):
        pytest.fail(
            f"openapi-python-client ({result.returncode}) on {served_schema}:\n{output}",
            pytrace=False,
        )
    sys.path.insert(0, str(directory))
    try:
        package = importlib.import_module(name)
        yield GeneratedClient(name=name, package=package, directory=directory)
    finally:
        sys.path.remove(str(directory))
        for module in [m for m in sys.modules if m == name or m.startswith(f"{name}.")]:
            del sys.modules[module]
