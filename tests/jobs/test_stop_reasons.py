"""One stop: a worker, a fleet and the processors they hold are stopped with the one typed
reason (an ``Abort``), which every one of them keeps as it was given."""

from __future__ import annotations

from typing import Any

from bulkdel.core.redis_connection import RedisWait, connect
from bulkdel.jobs.fleet import Fleet
from bulkdel.jobs.processor import PipelineProcessor
from bulkdel.jobs.worker import Worker
from bulkdel.models import Abort, AbortReason, Settings
from tests.jobs.helpers import StandIn

SIGTERM = Abort(AbortReason.INTERRUPTED, "SIGTERM")


class Told(StandIn):
    def __init__(self) -> None:
        super().__init__()
        self.told: list[Abort] = []

    def stop(self, reason: Abort) -> None:
        self.told.append(reason)


async def test_a_fleet_passes_its_reason_to_every_processor_it_holds() -> None:
    """No getattr: ``stop`` is part of the processor's interface."""
    fleet = Fleet(connect("redis://h:1/0"), _never, wait=RedisWait("redis://h:1/0"))
    held = fleet._processors["a"] = Told()
    fleet.stop(SIGTERM)
    assert held.told == [SIGTERM]
    assert fleet.stop_signal.reason == SIGTERM


async def test_a_worker_and_a_processor_keep_the_reason_they_were_given() -> None:
    worker = Worker(connect("redis://h:1/0"), "j", StandIn(), wait=RedisWait("redis://h:1/0"))
    worker.stop(SIGTERM)
    assert worker.stop_signal.reason == SIGTERM
    processor = PipelineProcessor(StandIn(), Settings())  # type: ignore[arg-type]
    processor.stop(SIGTERM)
    assert processor.no_new_batch.reason == SIGTERM
    assert processor.abort is None  # a stop asked for is not a fatal answer


def _never(job: str) -> Any:
    raise AssertionError("no job is opened")
