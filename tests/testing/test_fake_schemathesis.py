"""Schemathesis, from ImageKit's own OpenAPI description, against the shipped fake server on
the endpoints it serves: no server error, only documented statuses, answers that match the
description's schemas.

What the description admits and the fake still refuses, decided one by one:
- ``GET /v1/files?sort=...``: every documented sort (``*_UPDATED``, ``*_HEIGHT``,
  ``*_WIDTH``, ``*_RELEVANCE`` too) is accepted: refusing them was the fake's gap.
- ``{"fileIds": []}`` answers 400 ``fileIds is empty.``: ImageKit's behaviour, as its
  description says (the 400 of ``/v1/files/batch/deleteByFileIds`` lists that message).
- A purge URL outside the account's URL endpoints, and an unknown purge ``requestId``,
  answer 400: both operations document a 400 "Bad request" for what the server will not
  do, and ImageKit's purge documentation only purges the account's own URLs.
- ``PATCH /v1/files/{fileId}/details`` (updating a file) is not served: bulkdel never sends
  it, so the fake leaves it out and so does this run.
"""

from __future__ import annotations

import base64
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

schemathesis = pytest.importorskip("schemathesis")

from hypothesis import HealthCheck, given, settings  # noqa: E402
from schemathesis.checks import not_a_server_error  # noqa: E402
from schemathesis.specs.openapi.checks import (  # noqa: E402
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from bulkdel.testing import FakeImageKit  # noqa: E402
from tests.helpers import KEY, ThreadedServer  # noqa: E402

SPEC_PATH = Path(__file__).parent.parent / "data" / "imagekit-openapi-v1.0.0.yaml"
#: the operations the fake serves (what bulkdel calls)
SERVED = [
    ("GET", "/v1/files"),
    ("POST", "/v1/files/batch/deleteByFileIds"),
    ("GET", "/v1/files/{fileId}/details"),
    ("POST", "/v1/files/purge"),
    ("GET", "/v1/files/purge/{requestId}"),
]
AUTH = {"Authorization": "Basic " + base64.b64encode(f"{KEY}:".encode()).decode()}
CHECKS = (
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
)


@pytest.fixture(scope="module")
def server_url() -> Iterator[str]:
    with ThreadedServer(FakeImageKit(KEY)) as server:
        yield server.url


@pytest.mark.parametrize(("method", "path"), SERVED)
def test_the_fake_answers_as_the_description_says(server_url: str, method: str, path: str) -> None:
    """Schema-valid requests, derandomized: every answer is documented and well-formed."""
    operation = _schema()[path][method]

    @given(case=operation.as_strategy())
    @settings(
        max_examples=25,
        deadline=None,
        derandomize=True,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    def check(case: Any) -> None:
        case.call_and_validate(base_url=server_url, headers=AUTH, checks=CHECKS)

    check()


def _spec() -> dict[str, Any]:
    with SPEC_PATH.open(encoding="utf-8") as handle:
        spec: dict[str, Any] = yaml.safe_load(handle)
    return spec


def _null_types(node: Any) -> Any:
    """The description writes ``type: [string, null]`` with a bare ``null``, which YAML reads
    as None; JSON Schema means the type named "null"."""
    if isinstance(node, dict):
        return {
            k: ([("null" if t is None else t) for t in v] if k == "type" and isinstance(v, list)
                else "null" if k == "type" and v is None else _null_types(v))
            for k, v in node.items()
        }  # fmt: skip
    if isinstance(node, list):
        return [_null_types(v) for v in node]
    return node


def _schema() -> Any:
    return schemathesis.openapi.from_dict(_null_types(_spec()))


def _documented_sorts() -> list[str]:
    parameters = _spec()["paths"]["/v1/files"]["get"]["parameters"]
    (sort,) = [p for p in parameters if p.get("name") == "sort"]
    return list(sort["schema"]["enum"])


@pytest.mark.parametrize("sort", _documented_sorts())
def test_every_documented_sort_is_accepted(server_url: str, sort: str) -> None:
    """Each sort ImageKit's description lists answers 200 (fails before for the UPDATED,
    HEIGHT, WIDTH and RELEVANCE sorts: "Invalid sort parameter")."""
    import urllib.request

    request = urllib.request.Request(f"{server_url}/v1/files?sort={sort}&limit=1", headers=AUTH)
    with urllib.request.urlopen(request, timeout=10) as answer:
        assert answer.status == 200
