"""Ages and cutoffs: unambiguous units, calendar months, one absolute cutoff per run."""

from __future__ import annotations

import datetime as dt

import pytest

from bulkdel.errors import UsageError
from bulkdel.listing.selection import Selection, age_cutoff, months_before, parse_age

NOW = dt.datetime(2026, 8, 31, 12, 0, 0, 654321, tzinfo=dt.UTC)


def test_bare_m_is_refused_naming_both_readings() -> None:
    """6m is months to ImageKit and minutes elsewhere: refused, and the message says both."""
    with pytest.raises(UsageError) as caught:
        parse_age("6m")
    message = str(caught.value)
    assert "6 months" in message and "6 minutes" in message
    assert "6mo" in message and "6min" in message
    with pytest.raises(UsageError):
        Selection(older_than="6m")


@pytest.mark.parametrize(
    ("age", "expected"),
    [
        ("45s", NOW - dt.timedelta(seconds=45)),
        ("6min", NOW - dt.timedelta(minutes=6)),
        ("12h", NOW - dt.timedelta(hours=12)),
        ("90d", NOW - dt.timedelta(days=90)),
        ("2w", NOW - dt.timedelta(weeks=2)),
        ("6mo", dt.datetime(2026, 2, 28, 12, 0, 0, 654321, tzinfo=dt.UTC)),
        ("1y", dt.datetime(2025, 8, 31, 12, 0, 0, 654321, tzinfo=dt.UTC)),
        (" 18mo ", dt.datetime(2025, 2, 28, 12, 0, 0, 654321, tzinfo=dt.UTC)),
    ],
)
def test_units(age: str, expected: dt.datetime) -> None:
    """Fixed units count seconds; mo and y are calendar months, the day clamped."""
    assert age_cutoff(age, NOW) == expected


@pytest.mark.parametrize("age", ["6", "0d", "-1d", "6M", "6months", "6 minutes", "d", "1.5h"])
def test_bad_ages(age: str) -> None:
    """Anything but a positive whole number and a known unit is a usage error naming the
    parameter (never a CLI flag: the CLI shows it as --older-than)."""
    with pytest.raises(UsageError, match=r"^older_than ") as raised:
        parse_age(age)
    assert raised.value.parameter == "older_than"


def test_months_before_crosses_years_and_leap_days() -> None:
    """Calendar arithmetic: January minus 2 months is November; 29 Feb clamps in other years."""
    jan = dt.datetime(2026, 1, 15, tzinfo=dt.UTC)
    assert months_before(jan, 2) == dt.datetime(2025, 11, 15, tzinfo=dt.UTC)
    leap = dt.datetime(2024, 2, 29, tzinfo=dt.UTC)
    assert months_before(leap, 12) == dt.datetime(2023, 2, 28, tzinfo=dt.UTC)
    assert months_before(dt.datetime(2026, 3, 31, tzinfo=dt.UTC), 1).day == 28
    assert months_before(dt.datetime(2026, 12, 31, tzinfo=dt.UTC), 1).day == 30


def test_resolved_cutoff_is_absolute_and_cut_to_the_second() -> None:
    """The earliest of --older-than and --created-before, cut down to the second; describe()
    states it in UTC for people; the query carries it without milliseconds or Z."""
    resolved = Selection(path="/a/", recursive=True, older_than="6mo", tags=("x",)).resolve(NOW)
    assert resolved.cutoff == dt.datetime(2026, 2, 28, 12, 0, 0, tzinfo=dt.UTC)
    assert (
        resolved.describe() == 'path : "/a/" AND createdAt < 2026-02-28T12:00:00Z AND tags IN ["x"]'
    )
    assert 'createdAt < "2026-02-28T12:00:00"' in resolved.query
    both = Selection(older_than="1d", created_before="2026-08-01T10:00:00+02:00").resolve(NOW)
    assert both.cutoff == dt.datetime(2026, 8, 1, 8, 0, 0, tzinfo=dt.UTC)
    later = Selection(older_than="1d", created_before="2027-01-01").resolve(NOW)
    assert later.cutoff == dt.datetime(2026, 8, 30, 12, 0, 0, tzinfo=dt.UTC)
    assert Selection(path="/a/").resolve(NOW).cutoff is None
    assert Selection(path="/", recursive=True).resolve(NOW).describe() == "every file"


def test_summary_section() -> None:
    """as_dict() is the summary.json selection section: selectors, moment, cutoff, query."""
    section = Selection(path="/a/", older_than="90d").resolve(NOW).as_dict()
    assert section == {
        "selectors": "--path /a/ --older-than 90d",
        "resolved_at": "2026-08-31T12:00:00Z",
        "cutoff": "2026-06-02T12:00:00Z",
        "search_query": 'type = "file" AND path = "/a/" AND createdAt < "2026-06-02T12:00:00"',
        "describe": 'path = "/a/" AND createdAt < 2026-06-02T12:00:00Z',
        "folder": "/a/",
    }
