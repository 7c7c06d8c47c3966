"""The OpenAPI schema is a contract: the same surface as before, and the one error body declared."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from kb.errors import KBError
from tests.support.openapi_surface import surface

SNAPSHOT = Path(__file__).parent / "snapshots" / "openapi_surface.json"
PROBLEM = {"$ref": "#/components/schemas/Problem"}


@pytest.fixture
def spec(client: TestClient) -> dict[str, Any]:
    response = client.get("/openapi.json")
    assert response.status_code == 200
    return response.json()


def _operations(spec: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    return [
        (f"{method.upper()} {path}", op)
        for path, ops in spec["paths"].items()
        for method, op in ops.items()
    ]


def test_surface_matches_the_snapshot(spec: dict[str, Any]) -> None:
    """Paths, operations, parameters, bodies and success responses are what clients were given.

    After a deliberate change of the HTTP surface, regenerate the snapshot with
    ``python -m tests.api.test_openapi`` and review its diff."""
    assert surface(spec) == json.loads(SNAPSHOT.read_text())


def test_every_operation_declares_the_problem_body(spec: dict[str, Any]) -> None:
    """ErrorOut was dead code: generated clients did not know the error shape."""
    operations = _operations(spec)
    assert len(operations) > 40
    for name, op in operations:
        for status in ("4XX", "5XX"):
            content = op["responses"].get(status, {}).get("content", {})
            assert content.get("application/problem+json", {}).get("schema") == PROBLEM, (
                f"{name} does not declare {status} as problem+json"
            )
        for status, response in op["responses"].items():
            for body in response.get("content", {}).values():
                assert "HTTPValidationError" not in json.dumps(body), (name, status)


def test_declared_problem_names_every_field_of_the_error_body(spec: dict[str, Any]) -> None:
    declared = spec["components"]["schemas"]["Problem"]
    body = KBError("x").to_dict()
    assert set(body) <= set(declared["properties"])
    assert set(declared["required"]) == set(body)


def test_an_error_answer_matches_its_declaration(client: TestClient, spec: dict[str, Any]) -> None:
    response = client.get("/v1/kbs/kb_missing")
    declared = spec["components"]["schemas"]["Problem"]
    assert response.status_code in (401, 404)
    assert response.headers["content-type"].startswith("application/problem+json")
    assert set(declared["required"]) <= set(response.json())


if __name__ == "__main__":  # regenerate the snapshot from a fresh container
    import tempfile

    from api.app import create_app
    from api.container import build_container
    from kb.settings import Settings

    with tempfile.TemporaryDirectory() as data_dir:
        app = create_app(build_container(Settings(storage={"data_dir": data_dir})))
        SNAPSHOT.write_text(json.dumps(surface(app.openapi()), indent=1, sort_keys=True) + "\n")
