"""The official ImageKit SDK (imagekitio 5.x) reads the fake server's answers as ImageKit's."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from typing import Any, TypeVar

import imagekitio
import pytest
from imagekitio import AsyncImageKit, ImageKit

from bulkdel.testing import FakeImageKit, Faults

KEY = "private_sdk_test_key_0123"
T = TypeVar("T")


def ids(n: int, prefix: str = "f") -> list[str]:
    """``n`` distinct well-formed 24-character ids."""
    return [f"{prefix}{i:023x}" for i in range(n)]


@pytest.fixture
async def server() -> AsyncIterator[FakeImageKit]:
    """A fake server where one id is locked (permanent 207 error)."""
    faults = Faults(permanent_errors=frozenset(ids(1, "d")))
    async with FakeImageKit(KEY, faults=faults) as fake:
        yield fake


async def sync_delete(server: FakeImageKit, file_ids: list[str], *, key: str = KEY) -> Any:
    """Call the sync SDK in a worker thread, so the server's event loop keeps serving."""

    def call() -> Any:
        with ImageKit(private_key=key, base_url=server.url, max_retries=0) as sdk:
            return sdk.files.bulk.delete(file_ids=file_ids)

    return await asyncio.to_thread(call)


async def async_delete(server: FakeImageKit, file_ids: list[str], *, key: str = KEY) -> Any:
    """Call the async SDK on the test's loop (the server's loop too)."""
    async with AsyncImageKit(private_key=key, base_url=server.url, max_retries=0) as sdk:
        return await sdk.files.bulk.delete(file_ids=file_ids)


Deleter = Callable[..., Any]
both = pytest.mark.parametrize("delete", [sync_delete, async_delete], ids=["sync", "async"])


@both
async def test_200_parses(server: FakeImageKit, delete: Deleter) -> None:
    """A 200 parses into ``successfully_deleted_file_ids``."""
    batch = ids(3)
    result = await delete(server, batch)
    assert result.successfully_deleted_file_ids == batch
    assert server.deleted == set(batch)


@both
async def test_207_errors_are_reachable(server: FakeImageKit, delete: Deleter) -> None:
    """A 207's ``errors`` (not in the SDK's model) survive as pydantic extra fields."""
    batch = [*ids(2), *ids(1, "d")]
    result = await delete(server, batch)
    assert result.successfully_deleted_file_ids == ids(2)
    expected = [{"fileId": ids(1, "d")[0], "error": "File is locked and cannot be deleted."}]
    assert result.model_extra is not None
    assert result.model_extra["errors"] == expected
    assert result.to_dict()["errors"] == expected
    assert result.errors == expected


@both
async def test_404_raises_not_found_with_missing_ids(server: FakeImageKit, delete: Deleter) -> None:
    """A 404 raises NotFoundError whose body carries ``missingFileIds``."""
    await delete(server, ids(1))
    with pytest.raises(imagekitio.NotFoundError) as caught:
        await delete(server, ids(2))
    assert caught.value.status_code == 404
    assert caught.value.body["missingFileIds"] == ids(1)
    assert "The requested file(s) does not exist." in caught.value.message


@both
async def test_429_raises_rate_limit_error(delete: Deleter) -> None:
    """A 429 raises RateLimitError carrying ImageKit's X-RateLimit-* headers."""
    async with FakeImageKit(KEY, faults=Faults(throttle_burst=1.0)) as server:
        with pytest.raises(imagekitio.RateLimitError) as caught:
            await delete(server, ids(1))
    headers = caught.value.response.headers
    assert int(headers["X-RateLimit-Reset"]) > 0
    assert int(headers["X-RateLimit-Limit"]) > 0
    assert int(headers["X-RateLimit-Interval"]) > 0


@both
async def test_wrong_key_raises_permission_denied(server: FakeImageKit, delete: Deleter) -> None:
    """A wrong key raises PermissionDeniedError (403), and nothing is deleted."""
    with pytest.raises(imagekitio.PermissionDeniedError) as caught:
        await delete(server, ids(1), key="private_wrong_key")
    assert caught.value.status_code == 403
    assert server.deleted == set()


@both
async def test_400_raises_bad_request(server: FakeImageKit, delete: Deleter) -> None:
    """More than 100 ids raises BadRequestError with ImageKit's message."""
    with pytest.raises(imagekitio.BadRequestError) as caught:
        await delete(server, ids(101))
    assert caught.value.body["message"] == "fileIds cannot have more than 100 items."


async def test_sdk_sends_the_auth_the_server_expects(server: FakeImageKit) -> None:
    """The SDK's own auth header (key:do_not_set) is accepted: the control for the 403 test."""
    result = await async_delete(server, ids(1))
    assert result.successfully_deleted_file_ids == ids(1)
    assert server.stats.by_status == {200: 1}
