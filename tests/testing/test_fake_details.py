"""The fake's ``GET /v1/files/{fileId}/details`` against ImageKit's OpenAPI description, and
the details client that reads it."""

from __future__ import annotations

import base64
from typing import Any

import aiohttp
import pytest
from openapi_schema_validator import OAS31Validator, validate

from bulkdel.imagekit.details import DetailsClient, classify_details
from bulkdel.models import Kind
from bulkdel.testing import FakeImageKit, seed_files
from tests.imagekit.test_openapi_answers import resolve, spec

KEY = "private_details_test_key"
DETAILS = "/v1/files/{fileId}/details"


def schema_of(status: int) -> dict[str, Any]:
    """The details endpoint's ``status`` answer schema, references resolved, with every
    property of an error object required (ImageKit requires none)."""
    responses = spec()["paths"][DETAILS]["get"]["responses"]
    node = inline(resolve(responses[str(status)])["content"]["application/json"]["schema"])
    if status != 200:
        node["required"] = sorted(node["properties"])
    OAS31Validator.check_schema(node)
    return node


def inline(node: Any) -> Any:
    """A copy of ``node`` with every ``$ref`` followed, and YAML's bare ``null`` in a type
    list read as the type ``"null"`` (``type: [array, null]`` in the description)."""
    if isinstance(node, list):
        return [inline(item) for item in node]
    if not isinstance(node, dict):
        return node
    node = resolve(node)
    out = {key: inline(value) for key, value in node.items()}
    if isinstance(out.get("type"), list):
        out["type"] = ["null" if kind is None else kind for kind in out["type"]]
    return out


async def get(server: FakeImageKit, file_id: str, key: str | None = KEY) -> tuple[int, Any]:
    headers = {}
    if key is not None:
        headers["Authorization"] = "Basic " + base64.b64encode(f"{key}:".encode()).decode()
    url = f"{server.url}/v1/files/{file_id}/details"
    async with aiohttp.ClientSession() as session, session.get(url, headers=headers) as answer:
        return answer.status, await answer.json(content_type=None)


async def test_answers_match_the_openapi_description() -> None:
    """200 is a FileDetails object (only declared fields), 404 for a deleted or unknown id,
    400 for a malformed one, each as the description has it; 401 without a key."""
    files = seed_files({"/d/": 3})
    async with FakeImageKit(KEY, files=files) as server:
        status, body = await get(server, files[0].file_id)
        assert status == 200
        details = schema_of(200)
        validate(body, details, cls=OAS31Validator)
        assert set(body) <= set(details["properties"]), set(body) - set(details["properties"])
        assert body["fileId"] == files[0].file_id and body["filePath"] == files[0].file_path
        server._apply([files[1].file_id])
        for gone in (files[1].file_id, "f" * 24):
            status, body = await get(server, gone)
            assert status == 404
            validate(body, schema_of(404), cls=OAS31Validator)
        status, body = await get(server, "not%20an%20id")
        assert status == 400
        validate(body, schema_of(400), cls=OAS31Validator)
        assert (await get(server, files[0].file_id, key=None))[0] == 401
        assert server.stats.details_requests == 5


def test_a_strict_error_schema_rejects_a_misspelt_key() -> None:
    """The tightened 404 schema fails an answer without ``help``: the check can fail."""
    with pytest.raises(Exception, match="help"):
        validate({"message": "x", "halp": "y"}, schema_of(404), cls=OAS31Validator)


async def test_the_client_reads_every_answer() -> None:
    """exists -> SUCCESS, deleted -> MISSING, malformed -> BAD_REQUEST; a 404 that is not
    ImageKit's (a wrong base URL) is fatal; an unreadable 200 is transient."""
    files = seed_files({"/d/": 1})
    async with FakeImageKit(KEY, files=files, existing=[]) as server:  # noqa: SIM117 - url
        async with DetailsClient(KEY, base_url=server.url) as client:
            assert (await client.details(files[0].file_id)).kind is Kind.SUCCESS
            assert (await client.details("a" * 24)).kind is Kind.MISSING
            assert (await client.details("bad id")).kind is Kind.BAD_REQUEST
    assert classify_details(404, b"<html>", {}).kind is Kind.FATAL
    assert classify_details(200, b"[]", {}).kind is Kind.TRANSIENT
    assert classify_details(503, b"{}", {}).kind is Kind.TRANSIENT
