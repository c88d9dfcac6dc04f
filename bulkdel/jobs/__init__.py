"""A delete job spread over worker processes on any number of hosts, through Redis.

* ``Submitter`` reads, validates and de-duplicates the input as ``delete`` does and puts its
  batches on the job's Redis Stream (waiting while too many are open);
* ``Worker`` takes batches through the stream's consumer group and sends them with a
  ``PipelineProcessor`` (the same pipeline as ``delete``); it can run inside a service's own
  event loop;
* ``job_status``, ``job_report``, ``cancel_job`` read and steer the job from anywhere;
  ``list_jobs``, ``keep_job`` and ``delete_job`` keep a Redis's jobs for as long as wanted.

Redis is needed only here (``pip install 'bulkdel[redis]'``); ``connect`` (the one of
``bulkdel.core.redis_connection``) imports it.
"""

from __future__ import annotations

from ..core.redis_connection import connect
from ..errors import JobGoneError
from .outcome import BatchOutcome, BatchProcessor
from .processor import PipelineProcessor
from .redis_keys import PERSISTENCE_HINT, JobKeys
from .registry import JobEntry, delete_job, keep_job, list_jobs
from .report import job_report
from .status import JobStatus, cancel_job, job_status
from .submit import SubmitResult, Submitter
from .worker import Worker, WorkerResult, worker_name

__all__ = [
    "PERSISTENCE_HINT",
    "BatchOutcome",
    "BatchProcessor",
    "JobEntry",
    "JobGoneError",
    "JobKeys",
    "JobStatus",
    "PipelineProcessor",
    "SubmitResult",
    "Submitter",
    "Worker",
    "WorkerResult",
    "cancel_job",
    "connect",
    "delete_job",
    "job_report",
    "job_status",
    "keep_job",
    "list_jobs",
    "worker_name",
]
