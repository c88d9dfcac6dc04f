"""Options and environment resolved once into what a command runs with.

The library never reads the environment; this module is where the command line does
(``$IMAGE_KIT_BASE_URL`` or ``$IMAGEKIT_BASE_URL``, ``$IMAGEKIT_PRIVATE_KEY``). Checks are the
library's: ``Settings`` and ``Selection`` validate themselves and name their parameters, which
``boundary.FLAGS`` shows as options.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import UsageError
from ..imagekit import DEFAULT_BASE_URL, check_base_url
from ..listing.selection import Selection
from ..models import Settings
from ..record.journal.journal import owns_report_dir
from ..record.report import check_report_dir
from .options import (
    ConnectionOptions,
    DeleteOptions,
    ListOptions,
    RequestOptions,
    SelectorOptions,
)
from .redis_setup import resolve_redis_url


@dataclass(frozen=True)
class RunOptions:
    """What ``delete``, ``list`` or ``job submit``'s listing runs with: the options and the
    environment, resolved and checked.

    Attributes:
        settings: the library's settings.
        selection: the listing selectors, or None when ids are read from files.
        private_key: None when nothing will be sent (a dry run of files); never in ``repr``.
        redis_url: where the account's budget is shared (``--redis``), or None; never in
            ``repr`` (it may hold a password).
        report_dir: where the report goes (checked writable), None for no report.
        made_report_dir: ``report_dir`` is a new default one that bulkdel created.
    """

    settings: Settings
    selection: Selection | None
    private_key: str | None = field(repr=False)
    redis_url: str | None = field(default=None, repr=False)
    report_dir: Path | None = None
    #: the report directory is the default one, created (empty) by ``delete_run``
    made_report_dir: bool = False


#: the base URL's variables: the official SDK's spelling, and the one bulkdel's other
#: variables use (IMAGEKIT_PRIVATE_KEY); either is taken, never a guess between two
BASE_URL_ENV = ("IMAGE_KIT_BASE_URL", "IMAGEKIT_BASE_URL")


def resolve_base_url(option: str | None, environ: Mapping[str, str]) -> str:
    """``--base-url``, else ``$IMAGE_KIT_BASE_URL`` or ``$IMAGEKIT_BASE_URL``, else
    ImageKit's API.

    Raises:
        UsageError: both variables are set, to different URLs (without ``--base-url``): the
            key would go to one of two places, so neither is picked.
    """
    if option:
        return option
    given = {name: environ[name].strip() for name in BASE_URL_ENV if environ.get(name, "").strip()}
    if len(set(given.values())) > 1:
        raise UsageError(
            "IMAGE_KIT_BASE_URL and IMAGEKIT_BASE_URL are both set, to different URLs; "
            "unset one, or pass --base-url"
        )
    return next(iter(given.values()), DEFAULT_BASE_URL)


def read_private_key(key_file: Path | None, environ: Mapping[str, str]) -> str:
    """The key from ``--private-key-file`` or ``$IMAGEKIT_PRIVATE_KEY``.

    Raises:
        UsageError: the file cannot be read or is empty, or there is no key at all.
    """
    if key_file is not None:
        try:
            key = key_file.read_text(encoding="utf-8").strip()
        except OSError as exc:
            raise UsageError(f"cannot read --private-key-file {key_file}: {exc.strerror}") from None
        except UnicodeDecodeError:  # the message would quote the file's bytes: a secret
            raise UsageError(f"--private-key-file {key_file} is not UTF-8 text") from None
        if not key:
            raise UsageError(f"--private-key-file {key_file} is empty")
        return key
    key = environ.get("IMAGEKIT_PRIVATE_KEY", "").strip()
    if not key:
        raise UsageError("IMAGEKIT_PRIVATE_KEY is not set; export it or pass --private-key-file")
    return key


def settings_for(
    connection: ConnectionOptions, requests: RequestOptions, environ: Mapping[str, str]
) -> Settings:
    """``Settings`` from a command's options (the fields they do not set keep their
    defaults).

    Raises:
        UsageError: an unsafe base URL, or a value ``Settings`` refuses (naming its field:
            the command line shows it as its option, ``boundary.FLAGS``).
    """
    base_url = resolve_base_url(connection.base_url, environ)
    check_base_url(base_url, allow_insecure_http=connection.allow_insecure_http)
    return Settings(
        base_url=base_url,
        allow_insecure_http=connection.allow_insecure_http,
        **dataclasses.asdict(requests),
    )


def selection_from(selectors: SelectorOptions) -> Selection | None:
    """The selection the options describe, or None when no selector is given.

    Raises:
        UsageError: from ``Selection``: a bad selector or combination.
    """
    return _selection(selectors) if selectors.given else None


def _selection(selectors: SelectorOptions) -> Selection:
    return Selection(
        path=selectors.path,
        recursive=selectors.recursive,
        search_query=selectors.search_query,
        older_than=selectors.older_than,
        created_before=selectors.created_before,
        tags=selectors.tags,
    )


def delete_run(options: DeleteOptions, environ: Mapping[str, str]) -> RunOptions:
    """What ``bulkdel delete`` runs with: files of ids or selectors (not both); a key unless
    a dry run of files sends nothing.

    Raises:
        UsageError: any bad option, both files and selectors, or no key when one is needed.
    """
    settings = settings_for(options.connection, options.requests, environ)
    selection = selection_from(options.selectors)
    if options.source.sources and selection is not None:
        raise UsageError("give files of ids or listing selectors (--path, --tag, ...), not both")
    needs_key = selection is not None or not settings.dry_run
    key_file = options.connection.private_key_file
    key = read_private_key(key_file, environ) if needs_key else None
    if not settings.dry_run:
        check_journal_path(options.journal)
    sources = [] if selection is not None else list(options.source.sources)
    # A dry run keeps no journal, so it never reuses a directory.
    journal = None if settings.dry_run else options.journal
    report_dir = report_dir_from(options.report_dir, journal=journal, sources=sources)
    made = options.report_dir is None
    redis_url = resolve_redis_url(options.redis.url, environ)
    return RunOptions(settings, selection, key, redis_url, report_dir, made_report_dir=made)


def list_run(options: ListOptions, environ: Mapping[str, str]) -> RunOptions:
    """What ``bulkdel list`` runs with: selectors are required.

    Raises:
        UsageError: any bad option, no selector, or no key.
    """
    settings = settings_for(options.connection, options.requests, environ)
    selection = _selection(options.selectors)
    key = read_private_key(options.connection.private_key_file, environ)
    return RunOptions(settings, selection, key, resolve_redis_url(options.redis.url, environ))


def report_dir_from(
    option: Path | None, *, journal: Path | None = None, sources: Sequence[str] = ()
) -> Path:
    """``--report-dir``, checked before anything is read or sent; else a new directory
    ``default_report_dir()`` (created here, so that two runs started in the same second
    never share one).

    Args:
        option: ``--report-dir``.
        journal: ``--journal``: a directory this journal's job wrote may be reused.
        sources: the run's input paths (none may be one of the report's files).

    Raises:
        UsageError: (naming ``report_dir``) it holds another report or one of ``sources``,
            is empty or ``.``, is not a directory, or cannot be created or written.
    """
    if option is None:
        return make_default_report_dir()
    check_report_dir(option, reuse=owns_report_dir(journal, option), inputs=sources)
    _check_writable("report_dir", option, create=True)
    return option


def make_default_report_dir(now: dt.datetime | None = None) -> Path:
    """Create ``default_report_dir()`` (0700), or the first of ``<it>-2``, ``<it>-3``, ...
    that does not exist yet: ``mkdir`` is atomic, so each run gets a directory of its own.

    Raises:
        UsageError: the working directory cannot be written (naming ``report_dir``).
    """
    base = default_report_dir(now)
    for n in range(1, 1000):
        path = base if n == 1 else base.with_name(f"{base.name}-{n}")
        try:
            path.mkdir(mode=0o700)
        except FileExistsError:
            continue
        except OSError as exc:
            raise UsageError(
                f"report_dir {str(path)!r} cannot be created: {exc.strerror or exc}", "report_dir"
            ) from None
        return path
    raise UsageError(f"report_dir: too many reports named {base}-N here", "report_dir")


def check_journal_path(path: Path | None) -> None:
    """``--journal``'s folder exists and can be written (the journal itself may not exist).

    Raises:
        UsageError: naming ``journal``.
    """
    if path is not None:
        if path.is_dir():
            raise UsageError(f"journal {str(path)!r} is a directory, not a file", "journal")
        _check_writable("journal", path.parent if str(path.parent) else Path("."), create=False)


def _check_writable(parameter: str, path: Path, *, create: bool) -> None:
    """Raise a ``UsageError`` unless ``path`` is a writable directory or, with ``create``,
    can be made inside the nearest one that exists."""
    existing = path
    while not existing.exists() and create and existing != existing.parent:
        existing = existing.parent
    problem = None
    if not existing.exists():
        problem = "no such directory"
    elif not existing.is_dir():
        problem = "not a directory" if existing == path else f"{existing} is not a directory"
    elif not os.access(existing, os.W_OK | os.X_OK):
        problem = f"{existing} is not writable"
    if problem is not None:
        raise UsageError(f"{parameter} {str(path)!r} cannot be written: {problem}", parameter)


def default_report_dir(now: dt.datetime | None = None) -> Path:
    """``./bulkdel-report-<UTC timestamp>``."""
    stamp = (now or dt.datetime.now(dt.UTC)).strftime("%Y%m%dT%H%M%SZ")
    return Path(f"bulkdel-report-{stamp}")
