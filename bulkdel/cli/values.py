"""Option values checked where they are parsed: whole numbers and finite numbers in range,
paths the system can hold, durations (``--keep``).

A value Python parses but nothing can use (``1e400`` seconds, a 20-digit concurrency, ``nan``)
is refused here, naming the option, before anything runs. The bounds of the library's
settings are ``models``'s (``Settings`` checks them again for library callers).
"""

from __future__ import annotations

import argparse
import math
import os
import re
from collections.abc import Callable
from pathlib import Path
from typing import Final

#: longest number text taken (int() of a 5,000-digit string is slow and a ValueError anyway)
_MAX_DIGITS = 30


def whole(low: int, high: int | None = None) -> Callable[[str], int]:
    """An argparse type: a whole number in ``low..high`` (no upper bound when None)."""
    bounds = f">= {low:,}" if high is None else f"{low:,}..{high:,}"

    def parse(text: str) -> int:
        if len(text.strip()) > _MAX_DIGITS:
            raise argparse.ArgumentTypeError(f"must be {bounds}, got {_cut(text)}")
        try:
            value = int(text.strip())
        except ValueError:
            raise argparse.ArgumentTypeError(
                f"must be a whole number {bounds}, got {text!r}"
            ) from None
        if value < low or (high is not None and value > high):
            raise argparse.ArgumentTypeError(f"must be {bounds}, got {value:,}")
        return value

    parse.__name__ = f"whole {bounds}"
    return parse


def number(low: float, high: float, *, low_open: bool = True) -> Callable[[str], float]:
    """An argparse type: a finite number in ``(low, high]`` (``[low, high]`` when not
    ``low_open``)."""
    bounds = f"{'>' if low_open else '>='} {low:g} and <= {high:g}"

    def parse(text: str) -> float:
        if len(text.strip()) > _MAX_DIGITS:
            raise argparse.ArgumentTypeError(f"must be {bounds}, got {_cut(text)}")
        try:
            value = float(text.strip())
        except ValueError:
            raise argparse.ArgumentTypeError(f"must be a number {bounds}, got {text!r}") from None
        if not math.isfinite(value) or value < low or (low_open and value == low) or value > high:
            raise argparse.ArgumentTypeError(f"must be {bounds}, got {text.strip()}")
        return value

    parse.__name__ = f"number {bounds}"
    return parse


def _cut(text: str) -> str:
    """A long value, shortened for a message."""
    return repr(text.strip()[:_MAX_DIGITS] + "...")


#: the longest file name and path the system takes (Linux's; an OSError otherwise, later)
_NAME_MAX = 255
_PATH_MAX = 4096


def path_problem(path: Path) -> str | None:
    """Why ``path`` cannot name a file on this system (a name or the whole too long, a NUL
    byte), or None: checked when parsed, so that the error names the option."""
    text = os.fsencode(path)
    if b"\0" in text:
        return "must not contain a NUL character"
    if len(text) >= _PATH_MAX:
        return f"is too long a path ({len(text):,} bytes, at most {_PATH_MAX - 1:,})"
    longest = max((len(part) for part in text.split(b"/")), default=0)
    if longest > _NAME_MAX:
        return f"holds a name too long for a file ({longest:,} bytes, at most {_NAME_MAX})"
    return None


#: ``--keep``'s units, in seconds (``--older-than``'s fixed ones)
_UNITS: Final = {"s": 1, "min": 60, "h": 3600, "d": 86400, "w": 7 * 86400}
_DURATION: Final = re.compile(r"([0-9]{1,12})\s*(s|min|h|d|w)")
#: the longest retention taken: ten years
MAX_KEEP_S: Final = 3650 * 86400


def keep_duration(text: str) -> int:
    """An argparse type: ``7d``, ``12h``, ``30min``, ``90s``, ``2w`` as seconds (at least
    one, at most ten years)."""
    match = _DURATION.fullmatch(text.strip())
    seconds = int(match[1]) * _UNITS[match[2]] if match else 0
    if not 1 <= seconds <= MAX_KEEP_S:
        raise argparse.ArgumentTypeError(
            "must be a whole number and a unit s, min, h, d or w (like 7d or 12h), at most "
            f"3650d; got {text!r}"
        )
    return seconds
