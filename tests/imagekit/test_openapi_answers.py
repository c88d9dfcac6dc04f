"""The fake server's answers match ImageKit's OpenAPI description of the delete endpoint."""

from __future__ import annotations

import base64
import copy
import json
import re
from functools import cache
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import yaml
from jsonschema import ValidationError
from openapi_schema_validator import OAS31Validator, validate

from bulkdel.imagekit import DELETE_PATH
from bulkdel.testing import FakeImageKit, Faults

#: a copy of ../shared/reference/imagekit-openapi-v1.0.0.yaml, so the check never skips
SPEC_PATH = Path(__file__).parent.parent / "data" / "imagekit-openapi-v1.0.0.yaml"
KEY = "private_openapi_test_key"
LOCKED = "d" * 24


@cache
def spec() -> dict[str, Any]:
    """The OpenAPI document, parsed once."""
    with SPEC_PATH.open(encoding="utf-8") as handle:
        data: dict[str, Any] = yaml.safe_load(handle)
    return data


def resolve(node: dict[str, Any]) -> dict[str, Any]:
    """Follow a local ``$ref`` (``#/components/...``) to the object it names."""
    while "$ref" in node:
        target: Any = spec()
        for part in node["$ref"].removeprefix("#/").split("/"):
            target = target[part]
        node = target
    return node


def response_spec(status: int) -> dict[str, Any]:
    """The delete endpoint's response object for ``status``, references resolved."""
    responses = spec()["paths"][DELETE_PATH]["post"]["responses"]
    return resolve(responses[str(status)])


def strict_schema(status: int) -> dict[str, Any]:
    """The JSON schema of the ``status`` answer, with every declared property required.

    ImageKit's schemas require nothing, so as written they accept ``{}``; requiring what they
    declare makes a misspelt or missing key in the fake's answer fail.
    """
    schema = copy.deepcopy(response_spec(status)["content"]["application/json"]["schema"])

    def tighten(node: dict[str, Any]) -> None:
        if node.get("type") == "object" and "properties" in node:
            node["required"] = sorted(node["properties"])
            for child in node["properties"].values():
                tighten(child)
        if node.get("type") == "array" and isinstance(node.get("items"), dict):
            tighten(node["items"])

    tighten(schema)
    OAS31Validator.check_schema(schema)
    return schema


async def answer(server: FakeImageKit, body: Any, key: str | None = KEY) -> tuple[int, Any, Any]:
    """POST ``body`` as JSON; status, parsed JSON answer, headers."""
    headers = {}
    if key is not None:
        headers["Authorization"] = "Basic " + base64.b64encode(f"{key}:".encode()).decode()
    async with (
        aiohttp.ClientSession() as session,
        session.post(server.url + DELETE_PATH, json=body, headers=headers) as response,
    ):
        assert response.content_type == "application/json"
        return response.status, json.loads(await response.read()), response.headers


async def collect_answers() -> dict[int, Any]:
    """One answer of each status the delete endpoint documents, from fresh fake servers."""
    answers: dict[int, Any] = {}
    async with FakeImageKit(KEY, faults=Faults(permanent_errors=frozenset({LOCKED}))) as fake:
        for status, body, key in [
            (200, {"fileIds": ["a" * 24, "b" * 24]}, KEY),
            (207, {"fileIds": ["c" * 24, LOCKED]}, KEY),
            (404, {"fileIds": ["a" * 24, "e" * 24]}, KEY),
            (400, {"fileIds": []}, KEY),
            (401, {"fileIds": ["e" * 24]}, None),
            (403, {"fileIds": ["e" * 24]}, "private_wrong_key"),
        ]:
            got, data, _ = await answer(fake, body, key)
            assert got == status, data
            answers[status] = data
    return answers


@pytest.mark.parametrize("status", [200, 207, 404, 400, 401, 403])
async def test_answer_matches_its_schema(status: int) -> None:
    """The fake's answer validates against ImageKit's schema, with every declared key present."""
    data = (await collect_answers())[status]
    validate(data, response_spec(status)["content"]["application/json"]["schema"])
    validate(data, strict_schema(status), cls=OAS31Validator)


async def test_429_matches_schema_and_headers() -> None:
    """A 429 validates against RateLimitExceeded and carries each of its headers as an integer."""
    async with FakeImageKit(KEY, rate=1.0) as fake:
        assert (await answer(fake, {"fileIds": ["a" * 24]}))[0] == 200
        status, data, headers = await answer(fake, {"fileIds": ["b" * 24]})
    assert status == 429
    documented = response_spec(429)
    assert documented is resolve({"$ref": "#/components/responses/RateLimitExceeded"})
    validate(data, strict_schema(429), cls=OAS31Validator)
    assert set(documented["headers"]) == {
        "X-RateLimit-Limit",
        "X-RateLimit-Reset",
        "X-RateLimit-Interval",
    }
    for name, header in documented["headers"].items():
        assert name in headers, name
        value = headers[name]
        assert re.fullmatch(r"\d+", value), f"{name}: {value!r}"
        validate(int(value), header["schema"], cls=OAS31Validator)


def test_strict_schema_rejects_a_misspelt_key() -> None:
    """The tightened schemas do catch a wrong answer (a control for the tests above)."""
    with pytest.raises(ValidationError, match="missingFileIds"):
        validate(
            {"message": "m", "help": "h", "missingFileIDs": ["a"]},
            strict_schema(404),
            cls=OAS31Validator,
        )
    with pytest.raises(ValidationError, match="is not of type 'string'"):
        validate(
            {"successfullyDeletedFileIds": [1]},
            strict_schema(200),
            cls=OAS31Validator,
        )
