"""The ImageKit client: one batch, one request, one classified outcome (the API's table in
docs/contract.md)."""

from __future__ import annotations

import base64
import email.utils
import inspect
import json
import socket
import time
from collections.abc import AsyncIterator, Iterator
from typing import Any

import aiohttp
import pytest
from aioresponses import aioresponses
from aioresponses import core as aioresponses_core
from multidict import CIMultiDict
from yarl import URL

from bulkdel.errors import UsageError
from bulkdel.imagekit import DELETE_PATH, DeleteClient, check_base_url, classify, parse_wait
from bulkdel.models import FileError, Kind, Outcome
from bulkdel.testing import FakeImageKit, Faults

KEY = "private_unit_test_key_42"
BASE = "https://api.example.test"
URL_DELETE = BASE + DELETE_PATH
BATCH = ["a" * 24, "b" * 24, "c" * 24]


class _NoUpload:
    """Stands in for the request's stream writer: the mocked request sent no bytes."""

    output_size = 0


class _CompatResponse(aiohttp.ClientResponse):
    """aioresponses 0.7.9 does not pass ``stream_writer``, which aiohttp 3.14 requires
    (pnuckowski/aioresponses#289); this supplies it."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("stream_writer", _NoUpload())
        super().__init__(*args, **kwargs)


@pytest.fixture
def mocked(monkeypatch: pytest.MonkeyPatch) -> Iterator[aioresponses]:
    """aioresponses, letting requests to loopback (the fake server) through."""
    if "stream_writer" in inspect.signature(aiohttp.ClientResponse.__init__).parameters:
        monkeypatch.setattr(aioresponses_core, "ClientResponse", _CompatResponse)
    with aioresponses(passthrough=["http://127.0.0.1"]) as m:
        yield m


@pytest.fixture
async def client() -> AsyncIterator[DeleteClient]:
    """A client for the mocked BASE."""
    async with DeleteClient(KEY, base_url=BASE) as c:
        yield c


def _json(data: Any) -> bytes:
    return json.dumps(data).encode()


def _no_headers() -> CIMultiDict[str]:
    return CIMultiDict()


def _sent(m: aioresponses) -> list[Any]:
    return m.requests[("POST", URL(URL_DELETE))]


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
    (call,) = _sent(mocked)
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


@pytest.mark.parametrize("status", [500, 502, 503, 504])
async def test_5xx_is_transient_maybe_applied(
    mocked: aioresponses, client: DeleteClient, status: int
) -> None:
    """5xx -> TRANSIENT, maybe applied (the server may have deleted before failing)."""
    mocked.post(URL_DELETE, status=status, body="<html>Bad Gateway</html>")
    outcome = await client.delete_batch(BATCH)
    assert outcome.kind is Kind.TRANSIENT
    assert outcome.status == status
    assert outcome.maybe_applied is True
    assert outcome.deleted == ()
    assert "Bad Gateway" in outcome.message


@pytest.mark.parametrize(
    "body",
    [
        b"<html>OK</html>",
        b"\xff\xfe garbage",
        b"",
        _json({"deleted": BATCH}),
        _json({"successfullyDeletedFileIds": "all"}),
        _json({"successfullyDeletedFileIds": [1, 2]}),
        _json({"successfullyDeletedFileIds": BATCH, "errors": "none"}),
        _json(BATCH),
    ],
    ids=["html", "garbage", "empty", "missing-key", "str", "ints", "errors-str", "bare-list"],
)
@pytest.mark.parametrize("status", [200, 207])
async def test_unreadable_2xx_is_never_success(
    mocked: aioresponses, client: DeleteClient, status: int, body: bytes
) -> None:
    """A 2xx whose body is not the expected JSON -> TRANSIENT maybe_applied, nothing deleted."""
    mocked.post(URL_DELETE, status=status, body=body)
    outcome = await client.delete_batch(BATCH)
    assert outcome.kind is Kind.TRANSIENT
    assert outcome.maybe_applied is True
    assert outcome.deleted == ()
    assert outcome.errors == ()


async def test_timeout_is_transient_maybe_applied(
    mocked: aioresponses, client: DeleteClient
) -> None:
    """A timeout -> TRANSIENT with no status, maybe applied."""
    mocked.post(URL_DELETE, exception=TimeoutError())
    outcome = await client.delete_batch(BATCH)
    assert outcome == Outcome(Kind.TRANSIENT, None, message="timed out", maybe_applied=True)


async def test_server_timeout_error_is_transient_maybe_applied(
    mocked: aioresponses, client: DeleteClient
) -> None:
    """aiohttp's ServerTimeoutError (a read timeout) -> TRANSIENT maybe applied."""
    mocked.post(URL_DELETE, exception=aiohttp.ServerTimeoutError("read timeout"))
    outcome = await client.delete_batch(BATCH)
    assert outcome.kind is Kind.TRANSIENT
    assert outcome.maybe_applied is True


async def test_connect_error_is_transient_not_applied(
    mocked: aioresponses, client: DeleteClient
) -> None:
    """A connection that was never made -> TRANSIENT, certainly not applied."""
    key = aiohttp.client_reqrep.ConnectionKey("api.example.test", 443, True, True, None, None, None)
    mocked.post(URL_DELETE, exception=aiohttp.ClientConnectorError(key, ConnectionRefusedError()))
    outcome = await client.delete_batch(BATCH)
    assert outcome.kind is Kind.TRANSIENT
    assert outcome.status is None
    assert outcome.maybe_applied is False
    assert "cannot connect" in outcome.message


@pytest.mark.parametrize(
    "exc",
    [
        aiohttp.ServerDisconnectedError(),
        aiohttp.ClientPayloadError("truncated"),
        aiohttp.ClientOSError(104, "Connection reset by peer"),
    ],
    ids=["disconnected", "payload", "reset"],
)
async def test_lost_connection_is_transient_maybe_applied(
    mocked: aioresponses, client: DeleteClient, exc: Exception
) -> None:
    """A connection lost after sending -> TRANSIENT, maybe applied."""
    mocked.post(URL_DELETE, exception=exc)
    outcome = await client.delete_batch(BATCH)
    assert outcome.kind is Kind.TRANSIENT
    assert outcome.status is None
    assert outcome.maybe_applied is True
    assert "connection lost" in outcome.message


async def test_key_never_in_outcome_messages(mocked: aioresponses) -> None:
    """A server that echoes the key or the auth header back never gets it into a message."""
    token = base64.b64encode(f"{KEY}:".encode()).decode()
    echo = f"debug: Authorization: Basic {token} key={KEY}"
    answers: list[dict[str, Any]] = [
        {"status": 500, "body": echo},
        {"status": 200, "body": echo},
        {"status": 404, "body": echo},
        {"status": 400, "payload": {"message": echo}},
        {"status": 403, "payload": {"message": echo}},
        {"status": 429, "payload": {"message": echo}},
        {
            "status": 207,
            "payload": {
                "successfullyDeletedFileIds": [],
                "errors": [{"fileId": fid, "error": echo} for fid in BATCH],
            },
        },
    ]
    for answer in answers:
        mocked.post(URL_DELETE, **answer)
    async with DeleteClient(KEY, base_url=BASE) as client:
        outcomes = [await client.delete_batch(BATCH) for _ in answers]
        assert KEY not in repr(client)
        assert token not in repr(client)
    texts = [o.message for o in outcomes[:-1]] + [e.error for e in outcomes[-1].errors]
    assert len(texts) == len(answers) - 1 + len(BATCH)
    assert all("debug" in text for text in texts), texts
    for text in texts:
        assert KEY not in text
        assert token not in text


# --- real sockets: connection refused and a dropped connection ----------------------------


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


async def test_connection_refused_is_not_applied() -> None:
    """A real refused connection -> TRANSIENT with maybe_applied False."""
    async with DeleteClient(KEY, base_url=f"http://127.0.0.1:{_closed_port()}") as client:
        outcome = await client.delete_batch(BATCH)
    assert outcome.kind is Kind.TRANSIENT
    assert outcome.status is None
    assert outcome.maybe_applied is False


async def test_real_disconnect_is_maybe_applied() -> None:
    """A server that closes the connection without answering -> TRANSIENT maybe applied."""
    async with (
        FakeImageKit(KEY, faults=Faults(drop_before=1.0)) as server,
        DeleteClient(KEY, base_url=server.url) as client,
    ):
        outcome = await client.delete_batch(BATCH)
    assert outcome.kind is Kind.TRANSIENT
    assert outcome.maybe_applied is True
    assert server.deleted == set()


async def test_real_timeout_is_maybe_applied() -> None:
    """A server slower than the client's timeout -> TRANSIENT 'timed out', maybe applied."""
    faults = Faults(slow_after=1.0, slow_seconds=5.0)
    async with (
        FakeImageKit(KEY, faults=faults) as server,
        DeleteClient(KEY, base_url=server.url, timeout=0.2) as client,
    ):
        outcome = await client.delete_batch(BATCH)
    assert outcome == Outcome(Kind.TRANSIENT, None, message="timed out", maybe_applied=True)
    assert server.deleted == set(BATCH)


# --- construction, sessions, safety --------------------------------------------------------


def test_repr_hides_key() -> None:
    """repr(client) shows the base URL and never the key."""
    client = DeleteClient(KEY, base_url=BASE)
    assert KEY not in repr(client)
    assert BASE in repr(client)


@pytest.mark.parametrize("key", ["", "   "])
def test_empty_key_is_usage_error(key: str) -> None:
    """An empty or blank key is refused before anything is sent."""
    with pytest.raises(UsageError, match="empty"):
        DeleteClient(key)


def test_connections_must_be_positive() -> None:
    """connections < 1 is a UsageError naming the parameter."""
    with pytest.raises(UsageError, match="connections"):
        DeleteClient(KEY, connections=0)


async def test_own_session_has_no_pool_limit_by_default() -> None:
    """Without ``connections`` the pool does not cap requests in flight (0 = no limit)."""
    client = DeleteClient(KEY)
    try:
        assert client.session.connector is not None
        assert client.session.connector.limit == 0
    finally:
        await client.close()


async def test_own_session_uses_connections_as_pool_size() -> None:
    """The session the client makes has a pool of ``connections`` connections."""
    client = DeleteClient(KEY, connections=5)
    try:
        assert client.session.connector is not None
        assert client.session.connector.limit == 5
    finally:
        await client.close()


@pytest.mark.parametrize(
    "url",
    ["http://api.imagekit.io", "http://10.0.0.1:8080", "http://example.com/"],
)
def test_plain_http_to_remote_host_is_refused(url: str) -> None:
    """http to a non-loopback host raises UsageError unless allow_insecure_http."""
    with pytest.raises(UsageError, match="plain http"):
        DeleteClient(KEY, base_url=url)
    client = DeleteClient(KEY, base_url=url, allow_insecure_http=True)
    assert client.base_url == url.rstrip("/")


@pytest.mark.parametrize(
    "url", ["http://127.0.0.1:8787", "http://localhost:1", "http://[::1]:9", "https://x.test/"]
)
def test_loopback_http_and_https_are_accepted(url: str) -> None:
    """http to loopback and https anywhere are fine; a trailing slash is dropped."""
    assert check_base_url(url) == url.rstrip("/")


@pytest.mark.parametrize(
    "url", ["ftp://api.imagekit.io", "api.imagekit.io", "https://", "https://u:p@x.test"]
)
def test_malformed_base_url_is_refused(url: str) -> None:
    """A base URL that is not http(s) with a host, or that holds credentials, is refused."""
    with pytest.raises(UsageError):
        check_base_url(url)


async def test_caller_session_is_used_and_left_open() -> None:
    """A caller's ClientSession carries the requests and is not closed by client.close()."""
    seen: list[str] = []

    async def on_start(_s: Any, _ctx: Any, params: aiohttp.TraceRequestStartParams) -> None:
        seen.append(str(params.url))

    trace = aiohttp.TraceConfig()
    trace.on_request_start.append(on_start)
    async with FakeImageKit(KEY) as server, aiohttp.ClientSession(trace_configs=[trace]) as session:
        client = DeleteClient(KEY, base_url=server.url, session=session)
        assert client.session is session
        outcome = await client.delete_batch(BATCH)
        await client.close()
        assert not session.closed
        assert outcome.kind is Kind.SUCCESS
        assert seen == [server.url + DELETE_PATH]


async def test_own_session_is_closed_by_close() -> None:
    """The session a client made for itself is closed by close()."""
    client = DeleteClient(KEY, base_url=BASE)
    session = client.session
    await client.close()
    assert session.closed


# --- classify and parse_wait, pure ---------------------------------------------------------


def test_classify_dedups_deleted_ids() -> None:
    """An id listed twice as deleted is reported once."""
    body = _json({"successfullyDeletedFileIds": [BATCH[0], BATCH[0], *BATCH[1:]]})
    outcome = classify(200, body, _no_headers(), BATCH)
    assert outcome.deleted == tuple(BATCH)


def test_classify_id_deleted_and_errored_is_reported_once() -> None:
    """An id both listed as deleted and as an error is counted deleted, once."""
    body = _json(
        {
            "successfullyDeletedFileIds": BATCH,
            "errors": [{"fileId": BATCH[0], "error": "x"}, {"fileId": BATCH[1], "error": "y"}],
        }
    )
    outcome = classify(207, body, _no_headers(), BATCH)
    assert outcome.deleted == tuple(BATCH)
    assert outcome.errors == ()


def test_classify_207_skips_malformed_error_entries() -> None:
    """Malformed 207 error entries are ignored; their ids still come back as errors."""
    body = _json(
        {"successfullyDeletedFileIds": [BATCH[0]], "errors": ["oops", {"fileId": 3}, None]}
    )
    outcome = classify(207, body, _no_headers(), BATCH)
    assert outcome.kind is Kind.SUCCESS
    assert {e.file_id for e in outcome.errors} == set(BATCH[1:])


def test_classify_404_listing_only_foreign_ids_is_fatal() -> None:
    """A 404 whose missingFileIds names no id of the batch is not about our files: FATAL."""
    body = _json({"message": "nope", "missingFileIds": ["z" * 24]})
    assert classify(404, body, _no_headers(), BATCH).kind is Kind.FATAL


@pytest.mark.parametrize("status", [413, 400])
def test_classify_request_too_large_is_bad_request(status: int) -> None:
    """400 and 413 -> BAD_REQUEST (the batch is split to isolate the problem)."""
    assert classify(status, b"", _no_headers(), BATCH).kind is Kind.BAD_REQUEST


def test_classify_408_is_transient() -> None:
    """408 Request Timeout is transient and maybe applied."""
    outcome = classify(408, b"", _no_headers(), BATCH)
    assert outcome.kind is Kind.TRANSIENT
    assert outcome.maybe_applied


@pytest.mark.parametrize("status", [301, 302, 418, 422])
def test_classify_unexpected_status_is_fatal(status: int) -> None:
    """A status outside the table (e.g. a redirect, never followed) -> FATAL, naming it."""
    outcome = classify(status, b"<html/>", _no_headers(), BATCH)
    assert outcome.kind is Kind.FATAL
    assert str(status) in outcome.message


def test_classify_message_is_bounded_and_one_line() -> None:
    """A huge multi-line error body becomes a short one-line message."""
    body = ("line\n" * 10_000).encode()
    outcome = classify(503, body, _no_headers(), BATCH)
    assert len(outcome.message) <= 300
    assert "\n" not in outcome.message


def test_classify_empty_body_message() -> None:
    """An empty error body still gives a readable message."""
    assert classify(503, b"", _no_headers(), BATCH).message == "(empty body)"


def test_parse_wait_reset_wins_over_retry_after() -> None:
    """X-RateLimit-Reset (ms) wins when both headers are present."""
    headers = CIMultiDict({"X-RateLimit-Reset": "250", "Retry-After": "9"})
    assert parse_wait(headers) == pytest.approx(0.25)


def test_parse_wait_bad_reset_falls_back_to_retry_after() -> None:
    """An unparseable or negative X-RateLimit-Reset falls back to Retry-After."""
    assert parse_wait({"X-RateLimit-Reset": "soon", "Retry-After": "3"}) == 3.0
    assert parse_wait({"X-RateLimit-Reset": "-5", "Retry-After": "4"}) == 4.0


def test_parse_wait_http_date_uses_now() -> None:
    """Retry-After as an HTTP date is measured from the given ``now``."""
    headers = {"Retry-After": "Wed, 21 Oct 2015 07:28:00 GMT"}
    now = email.utils.parsedate_to_datetime(headers["Retry-After"]).timestamp() - 42
    assert parse_wait(headers, now=now) == pytest.approx(42.0)


def test_parse_wait_past_date_is_zero() -> None:
    """A Retry-After date in the past means "go now", not a negative wait."""
    assert parse_wait({"Retry-After": "Wed, 21 Oct 2015 07:28:00 GMT"}, now=2e9) == 0.0


@pytest.mark.parametrize(
    "headers",
    [{}, {"Retry-After": "-1"}, {"Retry-After": "whenever"}, {"X-RateLimit-Reset": "x"}],
)
def test_parse_wait_nothing_usable(headers: dict[str, str]) -> None:
    """No header, or only unusable values -> None."""
    assert parse_wait(headers) is None


def test_parse_wait_header_names_are_case_insensitive() -> None:
    """Header lookup is case-insensitive with aiohttp's headers."""
    assert parse_wait(CIMultiDict({"x-ratelimit-reset": "2000"})) == pytest.approx(2.0)
