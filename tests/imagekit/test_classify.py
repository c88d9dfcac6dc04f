"""``classify`` and ``parse_wait``, pure: an answer's status, body and headers to an outcome
and a wait."""

from __future__ import annotations

import email.utils

import pytest
from multidict import CIMultiDict

from bulkdel.imagekit import classify, parse_wait
from bulkdel.models import Kind
from tests.imagekit.wire import BATCH, no_headers, wire_json

# --- classify and parse_wait, pure ---------------------------------------------------------


def test_classify_dedups_deleted_ids() -> None:
    """An id listed twice as deleted is reported once."""
    body = wire_json({"successfullyDeletedFileIds": [BATCH[0], BATCH[0], *BATCH[1:]]})
    outcome = classify(200, body, no_headers(), BATCH)
    assert outcome.deleted == tuple(BATCH)


def test_classify_id_deleted_and_errored_is_reported_once() -> None:
    """An id both listed as deleted and as an error is counted deleted, once."""
    body = wire_json(
        {
            "successfullyDeletedFileIds": BATCH,
            "errors": [{"fileId": BATCH[0], "error": "x"}, {"fileId": BATCH[1], "error": "y"}],
        }
    )
    outcome = classify(207, body, no_headers(), BATCH)
    assert outcome.deleted == tuple(BATCH)
    assert outcome.errors == ()


def test_classify_207_skips_malformed_error_entries() -> None:
    """Malformed 207 error entries are ignored; their ids still come back as errors."""
    body = wire_json(
        {"successfullyDeletedFileIds": [BATCH[0]], "errors": ["oops", {"fileId": 3}, None]}
    )
    outcome = classify(207, body, no_headers(), BATCH)
    assert outcome.kind is Kind.SUCCESS
    assert {e.file_id for e in outcome.errors} == set(BATCH[1:])


def test_classify_404_listing_only_foreign_ids_is_fatal() -> None:
    """A 404 whose missingFileIds names no id of the batch is not about our files: FATAL."""
    body = wire_json({"message": "nope", "missingFileIds": ["z" * 24]})
    assert classify(404, body, no_headers(), BATCH).kind is Kind.FATAL


@pytest.mark.parametrize("status", [413, 400])
def test_classify_request_too_large_is_bad_request(status: int) -> None:
    """400 and 413 -> BAD_REQUEST (the batch is split to isolate the problem)."""
    assert classify(status, b"", no_headers(), BATCH).kind is Kind.BAD_REQUEST


def test_classify_408_is_transient() -> None:
    """408 Request Timeout is transient and maybe applied."""
    outcome = classify(408, b"", no_headers(), BATCH)
    assert outcome.kind is Kind.TRANSIENT
    assert outcome.maybe_applied


@pytest.mark.parametrize("status", [301, 302, 418, 422])
def test_classify_unexpected_status_is_fatal(status: int) -> None:
    """A status outside the table (e.g. a redirect, never followed) -> FATAL, naming it."""
    outcome = classify(status, b"<html/>", no_headers(), BATCH)
    assert outcome.kind is Kind.FATAL
    assert str(status) in outcome.message


def test_classify_message_is_bounded_and_one_line() -> None:
    """A huge multi-line error body becomes a short one-line message."""
    body = ("line\n" * 10_000).encode()
    outcome = classify(503, body, no_headers(), BATCH)
    assert len(outcome.message) <= 300
    assert "\n" not in outcome.message


def test_classify_empty_body_message() -> None:
    """An empty error body still gives a readable message."""
    assert classify(503, b"", no_headers(), BATCH).message == "(empty body)"


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
