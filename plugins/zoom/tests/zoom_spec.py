"""Read Zoom's published OpenAPI spec (reference data in ../shared/specs) and check bodies.

The specs are not part of the repository: tests using them skip with a reason when the folder
is absent. The checker is deliberately strict about *names*: every key meetbridge sends must
be a documented property, so a typo such as ``waitingroom`` fails the test.
"""

from __future__ import annotations

import functools
import json
from typing import Any

import pytest
from zoom_harness import SPECS

MEETING_SPEC = "zoom/zoom-meeting-api-subset.prokalp-2023-10.json"
ROOMS_SPEC = "zoom/zoom-meeting-api-subset.tommyhuangli-2023-07.json"

_TYPES = {
    "string": str,
    "integer": int,
    "boolean": bool,
    "object": dict,
    "array": list,
    "number": (int, float),
}


@functools.cache
def load(name: str) -> dict[str, Any]:
    path = SPECS / name
    if not path.exists():
        pytest.skip(f"Zoom API spec not available at {path} (../shared/specs is absent)")
    return json.loads(path.read_text())


def operation(path: str, method: str, name: str = MEETING_SPEC) -> dict[str, Any]:
    return load(name)["paths"][path][method]


def request_schema(path: str, method: str) -> dict[str, Any]:
    return operation(path, method)["requestBody"]["content"]["application/json"]["schema"]


def response_schema(
    path: str, method: str, status: str, name: str = MEETING_SPEC
) -> dict[str, Any]:
    return operation(path, method, name)["responses"][status]["content"]["application/json"][
        "schema"
    ]


def problems(schema: dict[str, Any], value: Any, where: str = "body") -> list[str]:
    """Everything in ``value`` that the schema does not allow (names, types, lengths, enums)."""
    found: list[str] = []
    expected = schema.get("type")
    if expected in _TYPES:
        python_type = _TYPES[expected]
        wrong = not isinstance(value, python_type) or (
            expected in {"integer", "number"} and isinstance(value, bool)
        )
        if wrong:
            return [f"{where}: expected {expected}, got {type(value).__name__}"]
    if "enum" in schema and value not in schema["enum"]:
        found.append(f"{where}: {value!r} not in {schema['enum']}")
    if isinstance(value, str) and "maxLength" in schema and len(value) > schema["maxLength"]:
        found.append(f"{where}: longer than {schema['maxLength']}")
    if isinstance(value, dict) and "properties" in schema:
        for key, item in value.items():
            if key not in schema["properties"]:
                found.append(f"{where}.{key}: not a documented property")
            else:
                found += problems(schema["properties"][key], item, f"{where}.{key}")
    return found
