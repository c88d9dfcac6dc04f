"""The parsed command line as typed, frozen options: built once, right after argparse.

``command_options`` is the one place that reads argparse's ``Namespace``; every command is
handed its own options object (``DeleteOptions``, ``VerifyOptions``, ...), made of the
groups the commands share (``ConnectionOptions``, ``RequestOptions``, ``RedisOptions``, ...).
Nothing here reads the environment or checks a value against the library: that is
``settings``'s, when a command runs.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from ..core.redis_connection import DEFAULT_WAIT
from ..models import Settings

if TYPE_CHECKING:  # the types only: the engine and the purge planner load when they run
    from ..engine.sources import Format
    from ..purge.cache import Mode

_DEFAULTS = Settings()


@dataclass(frozen=True)
class ConnectionOptions:
    """Where the API is and the key to it (``--base-url``, ``--private-key-file``,
    ``--allow-insecure-http``): every command that sends."""

    base_url: str | None = None
    private_key_file: Path | None = None
    allow_insecure_http: bool = False


@dataclass(frozen=True)
class RequestOptions:
    """The ``Settings`` fields a command's options set (the others keep their defaults)."""

    rate: float | None = None
    max_attempts: int = _DEFAULTS.max_attempts
    timeout: float = _DEFAULTS.timeout
    concurrency: int = _DEFAULTS.concurrency
    batch_size: int = _DEFAULTS.batch_size
    dry_run: bool = False
    max_delete: int | None = None


@dataclass(frozen=True)
class RedisOptions:
    """``--redis`` (None: ``$BULKDEL_REDIS_URL``, else none) and ``--redis-wait``."""

    url: str | None = None
    wait: float = DEFAULT_WAIT


@dataclass(frozen=True)
class SelectorOptions:
    """The listing selectors (``--path``, ``--tag``, ...)."""

    path: str | None = None
    recursive: bool = False
    search_query: str | None = None
    older_than: str | None = None
    created_before: str | None = None
    tags: tuple[str, ...] = ()

    @property
    def given(self) -> bool:
        """Any selector was given."""
        text = (self.path, self.search_query, self.older_than, self.created_before)
        return any(text) or self.recursive or bool(self.tags)


@dataclass(frozen=True)
class SourceOptions:
    """The files of ids and how they are read (``SOURCE``, ``--format``, ``--column``)."""

    sources: tuple[str, ...] = ()
    format: Format = "auto"
    column: str = "fileId"


@dataclass(frozen=True)
class MetricsOptions:
    """``--metrics-port`` (None: no ``/metrics``), ``--metrics-host``, ``--metrics-linger``."""

    port: int | None = None
    host: str = "127.0.0.1"
    linger: float = 0.0


@dataclass(frozen=True)
class PurgeCacheOptions:
    """``delete``'s ``--purge-cache`` (None: no purge), ``--purge-limit``, ``--url-endpoint``."""

    mode: Mode | None
    limit: int
    url_endpoint: str | None


@dataclass(frozen=True)
class DeleteOptions:
    """``bulkdel delete``."""

    connection: ConnectionOptions
    requests: RequestOptions
    selectors: SelectorOptions
    source: SourceOptions
    redis: RedisOptions
    metrics: MetricsOptions
    purge: PurgeCacheOptions
    no_preflight: bool
    yes: bool
    report_dir: Path | None
    journal: Path | None
    json: bool
    quiet: bool
    #: the command line as typed, for ``summary.json``'s audit (secrets removed there)
    invocation: tuple[str, ...] = ()


@dataclass(frozen=True)
class ListOptions:
    """``bulkdel list``."""

    connection: ConnectionOptions
    requests: RequestOptions
    selectors: SelectorOptions
    redis: RedisOptions
    no_preflight: bool
    jsonl: bool
    output: Path | None


@dataclass(frozen=True)
class ReportOptions:
    """``bulkdel report``."""

    journal: Path
    report_dir: Path | None
    json: bool


@dataclass(frozen=True)
class DemoOptions:
    """``bulkdel demo``."""

    ids: int
    report_dir: Path | None
    json: bool


@dataclass(frozen=True)
class VerifyOptions:
    """``bulkdel verify``."""

    connection: ConnectionOptions
    requests: RequestOptions
    redis: RedisOptions
    report_dir: Path
    sample: int | None
    json: bool


@dataclass(frozen=True)
class PurgeOptions:
    """``bulkdel purge``."""

    connection: ConnectionOptions
    requests: RequestOptions
    redis: RedisOptions
    report_dir: Path | None
    folders: tuple[str, ...]
    urls: tuple[str, ...]
    mode: Mode | None
    limit: int
    url_endpoint: str | None
    output_dir: Path | None
    json: bool


@dataclass(frozen=True)
class SubmitOptions:
    """``bulkdel job submit``."""

    connection: ConnectionOptions
    requests: RequestOptions
    selectors: SelectorOptions
    source: SourceOptions
    redis: RedisOptions
    job: str
    keep: int | None
    max_open: int
    yes: bool


@dataclass(frozen=True)
class WorkerOptions:
    """``bulkdel job worker``."""

    connection: ConnectionOptions
    requests: RequestOptions
    redis: RedisOptions
    metrics: MetricsOptions
    job: str | None
    exit_when_idle: bool
    name: str | None
    record_dir: Path | None
    visibility_timeout: float
    account_rate: float | None
    no_preflight: bool


@dataclass(frozen=True)
class JobOptions:
    """``bulkdel job status|report|cancel|list|delete`` (each reads the fields it has)."""

    command: str
    redis: RedisOptions
    #: ``--job`` and the positional ``NAME`` (``job.query.job_name`` picks the one given)
    job: str | None = None
    job_name: str | None = None
    json: bool = False
    visibility_timeout: float = 0.0
    report_dir: Path | None = None
    force: bool = False


CommandOptions = (
    DeleteOptions
    | ListOptions
    | ReportOptions
    | DemoOptions
    | VerifyOptions
    | PurgeOptions
    | SubmitOptions
    | WorkerOptions
    | JobOptions
)


def command_options(ns: argparse.Namespace, invocation: Sequence[str] = ()) -> CommandOptions:
    """The options of the command ``ns`` was parsed for (``build_parser``'s)."""
    if ns.command == "delete":
        return _delete(ns, tuple(invocation))
    if ns.command == "list":
        return ListOptions(
            _connection(ns),
            RequestOptions(rate=ns.rate, max_attempts=ns.max_attempts, timeout=ns.timeout),
            _selectors(ns),
            _redis(ns),
            ns.no_preflight,
            ns.jsonl,
            ns.output,
        )
    if ns.command == "report":
        return ReportOptions(ns.journal, ns.report_dir, ns.json)
    if ns.command == "demo":
        return DemoOptions(ns.ids, ns.report_dir, ns.json)
    if ns.command == "verify":
        return VerifyOptions(
            _connection(ns),
            _requests(ns, ns.concurrency),
            _redis(ns),
            ns.report_dir,
            ns.sample,
            ns.json,
        )
    if ns.command == "purge":
        return PurgeOptions(
            _connection(ns),
            _requests(ns),
            _redis(ns),
            ns.report_dir,
            tuple(ns.folder),
            tuple(ns.url),
            ns.mode,
            ns.purge_limit,
            ns.url_endpoint,
            ns.output_dir,
            ns.json,
        )
    return _job(ns)


def _delete(ns: argparse.Namespace, invocation: tuple[str, ...]) -> DeleteOptions:
    return DeleteOptions(
        connection=_connection(ns),
        requests=RequestOptions(
            rate=ns.rate,
            max_attempts=ns.max_attempts,
            timeout=ns.timeout,
            concurrency=ns.concurrency,
            batch_size=ns.batch_size,
            dry_run=ns.dry_run,
            max_delete=ns.max_delete,
        ),
        selectors=_selectors(ns),
        source=_source(ns),
        redis=_redis(ns),
        metrics=metrics_options(ns),
        purge=PurgeCacheOptions(ns.purge_cache, ns.purge_limit, ns.url_endpoint),
        no_preflight=ns.no_preflight,
        yes=ns.yes,
        report_dir=ns.report_dir,
        journal=ns.journal,
        json=ns.json,
        quiet=ns.quiet,
        invocation=invocation,
    )


def _job(ns: argparse.Namespace) -> SubmitOptions | WorkerOptions | JobOptions:
    command = ns.job_command
    if command == "submit":
        return SubmitOptions(
            _connection(ns),
            RequestOptions(
                rate=ns.rate,
                max_attempts=ns.max_attempts,
                timeout=ns.timeout,
                batch_size=ns.batch_size,
                dry_run=ns.dry_run,
                max_delete=ns.max_delete,
            ),
            _selectors(ns),
            _source(ns),
            _redis(ns),
            ns.job,
            ns.keep,
            ns.max_open,
            ns.yes,
        )
    if command == "worker":
        return WorkerOptions(
            _connection(ns),
            _requests(ns, ns.concurrency),
            _redis(ns),
            metrics_options(ns),
            ns.job,
            ns.exit_when_idle,
            ns.name,
            ns.record_dir,
            ns.visibility_timeout,
            ns.account_rate,
            ns.no_preflight,
        )
    redis = _redis(ns)
    if command == "list":
        return JobOptions(command, redis, json=ns.json)
    job, name = ns.job, ns.job_name
    if command == "status":
        return JobOptions(
            command, redis, job, name, json=ns.json, visibility_timeout=ns.visibility_timeout
        )
    if command == "report":
        return JobOptions(command, redis, job, name, json=ns.json, report_dir=ns.report_dir)
    if command == "delete":
        return JobOptions(command, redis, job, name, force=ns.force)
    return JobOptions(command, redis, job, name)


def _connection(ns: argparse.Namespace) -> ConnectionOptions:
    return ConnectionOptions(ns.base_url, ns.private_key_file, ns.allow_insecure_http)


def _requests(ns: argparse.Namespace, concurrency: int = _DEFAULTS.concurrency) -> RequestOptions:
    """``verify``'s, ``purge``'s and ``job worker``'s: rate, attempts, timeout, concurrency."""
    return RequestOptions(
        rate=ns.rate, max_attempts=ns.max_attempts, timeout=ns.timeout, concurrency=concurrency
    )


def _redis(ns: argparse.Namespace) -> RedisOptions:
    return RedisOptions(ns.redis, ns.redis_wait)


def _selectors(ns: argparse.Namespace) -> SelectorOptions:
    return SelectorOptions(
        ns.path, ns.recursive, ns.search_query, ns.older_than, ns.created_before, tuple(ns.tag)
    )


def _source(ns: argparse.Namespace) -> SourceOptions:
    return SourceOptions(tuple(str(s) for s in ns.sources), ns.format, ns.column)


def metrics_options(ns: argparse.Namespace) -> MetricsOptions:
    """``--metrics-port``, ``--metrics-host`` and ``--metrics-linger``."""
    return MetricsOptions(ns.metrics_port, ns.metrics_host, ns.metrics_linger)
