"""The budget's Lua script (``budget.lua``) and its calling convention: keys, arguments, reply.

One script does both steps, so that a turn is one round trip and a report at most one more:
``take`` (first counting the successes not reported yet, then reserving the next GCRA slot if
it is within ``HORIZON`` seconds) and ``report`` (a 429 or another answer: the controller and
the gate). Time is the Redis server's (``TIME``), in integer microseconds since ``EPOCH``, so
hosts' clocks never matter; ``now`` can be injected only to test the arithmetic.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from importlib.resources import files
from typing import Any, Final

from . import controller, pace, slow_start

#: the script's time origin (2025-01-01 UTC): microseconds since then stay exact in a double
EPOCH: Final = 1_735_689_600
#: a slot is reserved only this close (seconds); past it the caller asks again later, so a
#: gate that closes or a pace that drops meanwhile is not overtaken by old reservations
HORIZON: Final = 0.5
#: the state outlives its last use by this long (then a new run starts unpaced)
TTL_SECONDS: Final = 3600
#: GCRA's burst tolerance, as the in-process pace has it
BURST_SECONDS: Final = pace.BURST_SECONDS

#: the controller's constants as the script reads them: taken from the in-process controller,
#: so that a change of its constants reaches every process (a change of its rules needs the
#: script to follow; tests/budget/test_redis_budget_parity.py fails until it does)
CONTROLLER: Final[dict[str, float]] = {
    "target": controller.TARGET,
    "min_refusals": controller.MIN_REFUSALS,
    "min_answers": controller.MIN_ANSWERS,
    "probe_every": controller.PROBE_EVERY,
    "fast_step": controller.FAST_STEP,
    "slow_step": controller.SLOW_STEP,
    "near": controller.NEAR,
    "max_cut": controller.MAX_CUT,
    "ceiling_share": controller.CEILING_SHARE,
    "long_window": controller.LONG_WINDOW,
    "quota_share": pace.QUOTA_SHARE,
    "ceiling_trust": controller.CEILING_TRUST,
    "max_answers": controller.MAX_ANSWERS,
    "min_rate": controller.MIN_RATE,
    "app_limit": controller.APP_LIMIT,
    "clean_growth": controller.CLEAN_GROWTH,
    "clean_every": controller.CLEAN_EVERY,
    "max_step": controller.MAX_STEP,
    "max_clean": controller.MAX_CLEAN,
    "start_rate": slow_start.START_RATE,
    "start_growth": slow_start.START_GROWTH,
    "start_answers": slow_start.START_ANSWERS,
    "start_binding": slow_start.START_BINDING,
    "rtt_gain": slow_start.RTT_GAIN,
    "flight_timeout": slow_start.FLIGHT_TIMEOUT,
}

SOURCE: Final = (files(__package__) / "budget.lua").read_text(encoding="utf-8")


def key_prefix(base_url: str, private_key: str) -> str:
    """``bulkdel:{HASH}:`` for an account: a hash of base URL and key, never the key.

    The braces make the part inside a Redis Cluster hash tag, so the script's keys share a slot.
    """
    account = f"{base_url.rstrip('/')}\n{private_key}".encode()
    return f"bulkdel:{{{hashlib.sha256(account).hexdigest()[:32]}}}:"


def config(rate: float | None, *, slow_start: bool = True) -> str:
    """The script's ``cfg`` argument: constants, and the fixed pace if any.

    Args:
        rate: a fixed pace for the whole account; None adapts.
        slow_start: a new account state begins in the slow start (``slow_start.START_RATE``),
            as ``PaceController`` does; False begins unpaced.
    """
    cfg: dict[str, Any] = dict(CONTROLLER)
    cfg.update(
        epoch=EPOCH,
        horizon=HORIZON,
        burst=BURST_SECONDS,
        ttl_ms=TTL_SECONDS * 1000,
        slow_start=slow_start,
    )
    if rate is not None:
        cfg["fixed"] = rate
    return json.dumps(cfg)


@dataclass(frozen=True, slots=True)
class Reply:
    """What one script call answered (times in seconds of server time since ``EPOCH``).

    Attributes:
        verdict: ``go`` (a slot is reserved at ``slot``), ``wait`` (ask again in ``delay``
            seconds at the earliest) or ``ok`` (a report).
        delay: seconds from ``now`` to the slot (go) or to the first free slot (wait).
        slot: the reserved slot's time (go), else None.
        rate: the account's pace now, None while unpaced.
        gate: when the gate opens (or opened), None if it never closed.
        now: the server's time of the call.
    """

    verdict: str
    delay: float
    slot: float | None
    rate: float | None
    gate: float | None
    now: float

    @classmethod
    def parse(cls, raw: list[Any]) -> Reply:
        """From the script's reply (bytes or str, as the client decodes)."""
        text = [item.decode() if isinstance(item, bytes) else str(item) for item in raw]
        verdict, delay, slot, rate, gate, now = text
        return cls(
            verdict=verdict,
            delay=float(delay) / 1e6,
            slot=_seconds(slot),
            rate=float(rate) if rate else None,
            gate=_seconds(gate),
            now=float(now) / 1e6,
        )


def _seconds(us: str) -> float | None:
    return float(us) / 1e6 if us else None


def micros(seconds: float) -> str:
    """A server time in seconds as the script's integer microseconds."""
    return str(round(seconds * 1e6))


def take_args(
    cfg: str,
    pending: list[float],
    now: float | None = None,
    *,
    reserve: bool = True,
) -> list[str]:
    """Arguments of a ``take`` (or, without ``reserve``, a ``count``): first the successes
    not reported yet, by the time their turns were granted."""
    mode = "take" if reserve else "count"
    return [mode, _now(now), cfg, ",".join(micros(g) for g in pending)]


def report_args(
    cfg: str,
    granted_at: float,
    refused: bool,
    *,
    limit: int | None = None,
    interval: float | None = None,
    retry_after: float | None = None,
    now: float | None = None,
) -> list[str]:
    """Arguments of a ``report`` of one answer."""
    return [
        "report",
        _now(now),
        cfg,
        micros(granted_at),
        "429" if refused else "ok",
        "" if limit is None else str(limit),
        "" if interval is None else repr(float(interval)),
        "" if retry_after is None else repr(float(retry_after)),
    ]


def _now(now: float | None) -> str:
    return "" if now is None else micros(now)


def keys(prefix: str) -> list[str]:
    """The script's keys: state hash, grant times, answer times."""
    return [prefix + "budget", prefix + "sends", prefix + "answers"]
