"""A uniform random sample of a report's ids, and what a clean sample proves.

Sampling reads the list twice: once to count its lines (``bytes.count`` over 1 MiB blocks),
once to keep the lines whose numbers ``random.sample`` drew; memory holds only the sample,
however long the list (a 1M-id ``deleted.txt`` is 25 MB).

The confidence: if K of the N ids reported deleted still existed, a sample of n drawn
without replacement would miss all of them with probability C(N-K, n) / C(N, n)
(hypergeometric). The bound stated is the largest K for which that is still at least
1 - level: with a clean sample, "at most K still exist" holds at that level. For n = 1,000 of
1,000,000 at 95%, K is 2,990 (0.3%), close to the "rule of three" (3/n of N).
"""

from __future__ import annotations

import math
import os
import random
from pathlib import Path

_BLOCK = 1 << 20


def count_lines(path: str | os.PathLike[str]) -> int:
    """Non-empty lines are what the lists hold; this counts newline-ended lines plus a
    last unterminated one."""
    count = 0
    last = b"\n"
    with Path(path).open("rb") as handle:
        while block := handle.read(_BLOCK):
            count += block.count(b"\n")
            last = block[-1:]
    return count + (last != b"\n")


def read_ids(path: str | os.PathLike[str]) -> list[str]:
    """Every non-empty line of a list; an absent list is empty."""
    if not Path(path).exists():
        return []
    with Path(path).open(encoding="utf-8", errors="replace") as handle:
        return [line.strip() for line in handle if line.strip()]


def sample_ids(path: str | os.PathLike[str], n: int, rng: random.Random) -> tuple[list[str], int]:
    """``n`` lines of ``path`` drawn uniformly without replacement (all of them when it
    holds ``n`` or fewer), and how many lines it holds."""
    if not Path(path).exists():
        return [], 0
    total = count_lines(path)
    if total <= n:
        return read_ids(path), total
    wanted = set(rng.sample(range(total), n))
    picked = []
    with Path(path).open(encoding="utf-8", errors="replace") as handle:
        for number, line in enumerate(handle):
            if number in wanted and line.strip():
                picked.append(line.strip())
    return picked, total


def _log_miss_all(population: int, bad: int, n: int) -> float:
    """log P(a sample of ``n`` misses all ``bad`` of ``population``)."""
    if bad > population - n:
        return -math.inf
    lg = math.lgamma
    return (
        lg(population - bad + 1)
        - lg(population - bad - n + 1)
        - lg(population + 1)
        + lg(population - n + 1)
    )


def upper_bound(population: int, n: int, level: float = 0.95) -> int:
    """The most of ``population`` that can be bad while a clean sample of ``n`` still has
    probability >= 1 - ``level`` (0 when the sample is the whole population)."""
    if n >= population:
        return 0
    floor = math.log(1 - level)
    low, high = 0, population - n  # P(miss all) falls as ``bad`` grows
    while low < high:
        middle = (low + high + 1) // 2
        if _log_miss_all(population, middle, n) >= floor:
            low = middle
        else:
            high = middle - 1
    return low
