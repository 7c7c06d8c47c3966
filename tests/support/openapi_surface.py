"""What of an OpenAPI schema clients depend on: paths, methods, ids, parameters, bodies and
success responses (error responses are checked apart)."""

from __future__ import annotations

from typing import Any


def surface(spec: dict[str, Any]) -> dict[str, Any]:
    """One entry per operation (``"GET /v1/kbs"``) with what a generated client would use."""
    out: dict[str, Any] = {}
    for path, operations in sorted(spec["paths"].items()):
        for method, op in sorted(operations.items()):
            body = op.get("requestBody", {}).get("content", {})
            out[f"{method.upper()} {path}"] = {
                "operationId": op.get("operationId"),
                "parameters": sorted(
                    f"{p['in']}:{p['name']}:{p.get('required', False)}"
                    for p in op.get("parameters", [])
                ),
                "requestBody": {kind: c.get("schema") for kind, c in sorted(body.items())},
                "responses": {
                    status: {
                        kind: c.get("schema") for kind, c in sorted(r.get("content", {}).items())
                    }
                    for status, r in sorted(op["responses"].items())
                    if status[0] in "123"
                },
            }
    return out
