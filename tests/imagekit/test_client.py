"""The ImageKit client over the wire (aioresponses): one batch, one request, one classified
outcome for each answer of the API's table (docs/contract.md)."""

from __future__ import annotations

import base64
import email.utils
import json
import time

import pytest
from aioresponses import aioresponses

from bulkdel.imagekit import DeleteClient
from bulkdel.models import FileError, Kind, Outcome
from tests.imagekit.wire import BATCH, KEY, URL_DELETE, sent_requests

# --- over the wire (aioresponses), one test or more per row of the API's table -----------


async def test_200_lists_deleted_ids(mocked: aioresponses, client: DeleteClient) -> None:
    """200 with every id listed -> SUCCESS, all deleted, no errors."""
    mocked.post(URL_DELETE, status=200, payload={"successfullyDeletedFileIds": BATCH})
    outcome = await client.delete_batch(BATCH)
    assert outcome == Outcome(Kind.SUCCESS, 200, deleted=tuple(BATCH))


async def test_request_shape(mocked: aioresponses, client: DeleteClient) -> None:
    """A POST of {"fileIds": [...]} as JSON, Basic base64("key:"), redirects not followed."""
    mocked.post(URL_DELETE, status=200, payload={"successfullyDeletedFileIds": BATCH})
    await client.delete_batch(BATCH)
    (call,) = sent_requests(mocked)
    assert json.loads(call.kwargs["data"]) == {"fileIds": BATCH}
    headers = call.kwargs["headers"]
    assert headers["Authorization"] == "Basic " + base64.b64encode(f"{KEY}:".encode()).decode()
    assert headers["Content-Type"] == "application/json"
    assert call.kwargs["allow_redirects"] is False


async def test_200_not_mentioning_an_id_reports_it_as_error(
    mocked: aioresponses, client: DeleteClient
) -> None:
    """An id a 200 does not list is not deleted: it comes back as a per-id error."""
    mocked.post(URL_DELETE, status=200, payload={"successfullyDeletedFileIds": BATCH[:2]})
    outcome = await client.delete_batch(BATCH)
    assert outcome.kind is Kind.SUCCESS
    assert outcome.deleted == tuple(BATCH[:2])
    assert [e.file_id for e in outcome.errors] == [BATCH[2]]


async def test_foreign_ids_in_answer_are_never_reported(
    mocked: aioresponses, client: DeleteClient
) -> None:
    """Ids in a 207 answer that were not in the batch appear nowhere in the outcome."""
    foreign = "f" * 24
    mocked.post(
        URL_DELETE,
        status=207,
        payload={
            "successfullyDeletedFileIds": [BATCH[0], foreign],
            "errors": [{"fileId": foreign, "error": "x"}, {"fileId": BATCH[1], "error": "busy"}],
        },
    )
    outcome = await client.delete_batch(BATCH)
    assert outcome.deleted == (BATCH[0],)
    reported = {*outcome.deleted, *outcome.missing, *(e.file_id for e in outcome.errors)}
    assert foreign not in reported
    assert reported == set(BATCH)


async def test_207_per_id_errors(mocked: aioresponses, client: DeleteClient) -> None:
    """207 -> SUCCESS with the listed ids deleted and the server's per-id messages."""
    mocked.post(
        URL_DELETE,
        status=207,
        payload={
            "successfullyDeletedFileIds": [BATCH[0]],
            "errors": [
                {"fileId": BATCH[1], "error": "File is locked."},
                {"fileId": BATCH[2], "error": "Internal error."},
            ],
        },
    )
    outcome = await client.delete_batch(BATCH)
    assert outcome.kind is Kind.SUCCESS
    assert outcome.status == 207
    assert outcome.deleted == (BATCH[0],)
    assert outcome.errors == (
        FileError(BATCH[1], "File is locked."),
        FileError(BATCH[2], "Internal error."),
    )


async def test_404_with_missing_ids(mocked: aioresponses, client: DeleteClient) -> None:
    """404 with missingFileIds -> MISSING naming exactly those ids, nothing deleted."""
    mocked.post(
        URL_DELETE,
        status=404,
        payload={
            "message": "The requested file(s) does not exist.",
            "help": "support",
            "missingFileIds": [BATCH[1], "z" * 24],
        },
    )
    outcome = await client.delete_batch(BATCH)
    assert outcome.kind is Kind.MISSING
    assert outcome.missing == (BATCH[1],)
    assert outcome.deleted == ()
    assert outcome.message == "The requested file(s) does not exist."


@pytest.mark.parametrize(
    ("body", "content_type"),
    [
        ("<html><body><h1>404 Not Found</h1></body></html>", "text/html"),
        (json.dumps({"message": "Route not found"}), "application/json"),
        (json.dumps({"missingFileIds": "a" * 24}), "application/json"),
        (json.dumps({"missingFileIds": []}), "application/json"),
    ],
    ids=["html", "no-missing-key", "not-a-list", "empty-list"],
)
async def test_404_not_about_files_is_fatal(
    mocked: aioresponses, client: DeleteClient, body: str, content_type: str
) -> None:
    """A 404 without a usable missingFileIds (wrong base URL) -> FATAL with a hint."""
    mocked.post(URL_DELETE, status=404, body=body, content_type=content_type)
    outcome = await client.delete_batch(BATCH)
    assert outcome.kind is Kind.FATAL
    assert outcome.status == 404
    assert "base URL" in outcome.message


async def test_429_wait_from_ratelimit_reset(mocked: aioresponses, client: DeleteClient) -> None:
    """429 -> THROTTLED, waiting X-RateLimit-Reset milliseconds."""
    mocked.post(
        URL_DELETE,
        status=429,
        payload={"message": "Too many requests."},
        headers={
            "X-RateLimit-Limit": "10",
            "X-RateLimit-Reset": "1500",
            "X-RateLimit-Interval": "1000",
        },
    )
    outcome = await client.delete_batch(BATCH)
    assert outcome.kind is Kind.THROTTLED
    assert outcome.retry_after == pytest.approx(1.5)
    assert outcome.deleted == ()


async def test_429_wait_from_retry_after_seconds(
    mocked: aioresponses, client: DeleteClient
) -> None:
    """429 with only Retry-After: 7 -> THROTTLED, waiting 7 seconds."""
    mocked.post(URL_DELETE, status=429, body="slow down", headers={"Retry-After": "7"})
    outcome = await client.delete_batch(BATCH)
    assert outcome.kind is Kind.THROTTLED
    assert outcome.retry_after == pytest.approx(7.0)


async def test_429_wait_from_retry_after_http_date(
    mocked: aioresponses, client: DeleteClient
) -> None:
    """429 with Retry-After as an HTTP date -> the seconds until that date."""
    when = email.utils.formatdate(time.time() + 120, usegmt=True)
    mocked.post(URL_DELETE, status=429, body="", headers={"Retry-After": when})
    outcome = await client.delete_batch(BATCH)
    assert outcome.kind is Kind.THROTTLED
    assert outcome.retry_after is not None
    assert 110 <= outcome.retry_after <= 121


async def test_429_without_headers(mocked: aioresponses, client: DeleteClient) -> None:
    """429 with no wait header -> THROTTLED with retry_after None (the caller backs off)."""
    mocked.post(URL_DELETE, status=429, payload={"message": "Too many requests."})
    outcome = await client.delete_batch(BATCH)
    assert outcome.kind is Kind.THROTTLED
    assert outcome.retry_after is None


async def test_400_is_bad_request_with_message(mocked: aioresponses, client: DeleteClient) -> None:
    """400 -> BAD_REQUEST carrying the server's message."""
    mocked.post(
        URL_DELETE, status=400, payload={"message": "fileIds should be an Array.", "help": "h"}
    )
    outcome = await client.delete_batch(BATCH)
    assert outcome == Outcome(Kind.BAD_REQUEST, 400, message="fileIds should be an Array.")


@pytest.mark.parametrize("status", [401, 403])
async def test_401_403_are_fatal(mocked: aioresponses, client: DeleteClient, status: int) -> None:
    """401 and 403 -> FATAL with the server's message, nothing deleted."""
    mocked.post(
        URL_DELETE, status=status, payload={"message": "Your account cannot be authenticated."}
    )
    outcome = await client.delete_batch(BATCH)
    assert outcome == Outcome(Kind.FATAL, status, message="Your account cannot be authenticated.")
