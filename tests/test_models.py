"""Settings validation and the exception tree: messages name the parameter and the value."""

from __future__ import annotations

import pytest

import bulkdel
from bulkdel import (
    BulkdelError,
    FatalAPIError,
    InputError,
    JournalMismatchError,
    Settings,
    UsageError,
)


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("batch_size", 0, "batch_size must be 1..100, got 0"),
        ("batch_size", 101, "batch_size must be 1..100, got 101"),
        ("concurrency", 0, "concurrency must be 1..1000, got 0"),
        ("concurrency", 10**20, f"concurrency must be 1..1000, got {10**20}"),
        ("rate", 0.0, "rate must be > 0 and <= 1e+06, got 0"),
        ("rate", float("nan"), "rate must be a finite number, got nan"),
        ("rate", float("inf"), "rate must be a finite number, got inf"),
        ("max_attempts", 0, "max_attempts must be 1..100, got 0"),
        ("timeout", 0.0, "timeout must be > 0 and <= 3600, got 0"),
        ("timeout", 1e400, "timeout must be a finite number, got inf"),
        ("timeout", "30", "timeout must be a finite number, got '30'"),
        ("linger", -1.0, "linger must be >= 0 and <= 3600, got -1"),
        ("max_delete", -1, "max_delete must be >= 0, got -1"),
        ("max_delete", 1.5, "max_delete must be a whole number, got 1.5"),
    ],
)
def test_bad_settings_name_the_parameter_and_value(field: str, value: object, message: str) -> None:
    """Each invalid setting raises UsageError (also a ValueError) naming the field and value."""
    with pytest.raises(UsageError) as raised:
        Settings(**{field: value})  # type: ignore[arg-type]
    assert str(raised.value) == message
    assert raised.value.parameter == field


def test_boundary_settings_are_accepted() -> None:
    """The edges of every range are valid settings."""
    settings = Settings(batch_size=1, concurrency=1, rate=0.001, max_attempts=1, max_delete=0)
    assert (settings.batch_size, settings.max_delete) == (1, 0)
    assert Settings(batch_size=100).batch_size == 100


def test_fatal_api_error_carries_status_and_message() -> None:
    """FatalAPIError says the HTTP status in its message and keeps it as an attribute."""
    error = FatalAPIError(401, "Your request does not contain private API key.")
    assert error.status == 401
    assert str(error) == "HTTP 401: Your request does not contain private API key."
    assert isinstance(error, BulkdelError)
    assert not isinstance(error, UsageError)


def test_the_exception_tree_is_as_documented() -> None:
    """Every error is a BulkdelError; input and journal errors are usage errors (exit 2)."""
    assert issubclass(UsageError, BulkdelError)
    assert issubclass(InputError, UsageError)
    assert issubclass(JournalMismatchError, InputError)
    for name in ("BulkdelError", "UsageError", "InputError", "JournalMismatchError"):
        assert name in bulkdel.__all__
