"""The CLI's CDN parts on their own: the plan checked before anything is read, the per-file
limit, the purge after the run, the end-of-run note; and the preflight switch."""

from __future__ import annotations

import argparse
import json
from dataclasses import replace
from pathlib import Path

import pytest

from bulkdel.cli.args import add_preflight_argument, add_purge_arguments
from bulkdel.cli.boundary import option_message
from bulkdel.cli.options import PurgeCacheOptions
from bulkdel.cli.preflight import check_api
from bulkdel.cli.purge import (
    DeletedIds,
    PurgePlan,
    cdn_note,
    purge_after,
    purge_plan,
    refuse_above_limit,
)
from bulkdel.errors import FatalAPIError, UsageError
from bulkdel.imagekit import ListingClient
from bulkdel.listing.pager import Listing
from bulkdel.listing.selection import Selection
from bulkdel.models import Settings
from bulkdel.record.ledger import Counts, RequestStats
from bulkdel.record.report import Report
from bulkdel.testing import FakeImageKit, seed_files
from tests.helpers import KEY

ENDPOINT = "https://ik.imagekit.io/fake"


def parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    add_purge_arguments(parser)
    add_preflight_argument(parser)
    return parser.parse_args(argv)


def purge_options(args: argparse.Namespace) -> PurgeCacheOptions:
    return PurgeCacheOptions(args.purge_cache, args.purge_limit, args.url_endpoint)


def report(tmp_path: Path | None, deleted: int, *, dry_run: bool = False) -> Report:
    return Report(
        counts=Counts(read=deleted, unique=deleted, deleted=deleted),
        requests=RequestStats(),
        complete=True,
        abort=None,
        elapsed_s=1.0,
        report_dir=tmp_path,
        dry_run=dry_run,
    )


def test_options_and_the_plan() -> None:
    """--purge-cache alone means folders; the plan holds the folder's wildcard URL."""
    args = parse(["--purge-cache", "--url-endpoint", ENDPOINT + "/"])
    assert args.purge_cache == "folders" and args.purge_limit == 100 and not args.no_preflight
    plan = purge_plan(purge_options(args), Selection(path="/a/b/", recursive=True), {})
    assert plan == PurgePlan("folders", ENDPOINT, ENDPOINT + "/a/b/*", 100)
    files = parse(["--purge-cache=files", "--purge-limit", "5"])
    environ = {"IMAGEKIT_URL_ENDPOINT": ENDPOINT}
    plan = purge_plan(purge_options(files), Selection(tags=("x",)), environ)
    assert plan == PurgePlan("files", ENDPOINT, None, 5)
    assert purge_plan(purge_options(parse([])), Selection(path="/a/"), {}) is None


@pytest.mark.parametrize(
    ("argv", "selection", "message"),
    [
        (["--purge-cache"], None, "a file of ids has no URLs"),
        (["--purge-cache"], Selection(path="/a/b/"), "IMAGEKIT_URL_ENDPOINT"),
        (
            ["--purge-cache", "--url-endpoint", ENDPOINT],
            Selection(tags=("x",)),
            "--purge-cache=files",
        ),
        (["--purge-cache", "--url-endpoint", ENDPOINT], Selection(path="/a/"), "two levels"),
        (["--purge-cache", "--url-endpoint", "nope"], Selection(path="/a/b/"), "url_endpoint"),
    ],
)
def test_plan_refusals(argv: list[str], selection: Selection | None, message: str) -> None:
    """Each refusal is a usage error (exit 2, nothing read) that says what to do."""
    with pytest.raises(UsageError, match=message):
        purge_plan(purge_options(parse(argv)), selection, {})


async def test_per_file_purges_are_refused_above_the_limit_before_deleting() -> None:
    """More selected files than --purge-limit: refused, no delete sent; at or under: the
    listing is set to keep URLs."""
    async with FakeImageKit(KEY, files=seed_files({"/a/b/": 6})) as server:
        settings = Settings(base_url=server.url)
        plan = PurgePlan("files", ENDPOINT, None, 5)
        listing = Listing(ListingClient(KEY, base_url=server.url), Selection(path="/a/b/"))
        with pytest.raises(UsageError, match="limit 5") as refused:
            await refuse_above_limit(plan, listing, KEY, settings)
        # the library names its parameter; the command line shows it as the option
        assert "--purge-limit 5" in option_message(refused.value)
        assert listing.urls is None and server.deleted == set()
        await refuse_above_limit(PurgePlan("files", ENDPOINT, None, 6), listing, KEY, settings)
        assert listing.urls == {}
        await listing.close()


async def test_purge_after_a_folder_delete_writes_purge_json(tmp_path: Path) -> None:
    """One wildcard purge; purge.json and summary.json's purge section say Completed."""
    async with FakeImageKit(KEY) as server:
        server.purge.pending_polls = 0
        plan = PurgePlan("folders", ENDPOINT, ENDPOINT + "/a/b/*", 100)
        done = await purge_after(
            plan,
            report(tmp_path, 3),
            private_key=KEY,
            settings=Settings(base_url=server.url),
            urls=None,
            deleted=[],
        )
        assert server.purge.purged == [ENDPOINT + "/a/b/*"]
    purge = json.loads((tmp_path / "purge.json").read_text())
    assert purge["purges"][0]["status"] == "Completed" and purge["requests"] == 1
    assert json.loads((tmp_path / "summary.json").read_text())["purge"] == done.purge
    assert done.purge is not None and done.purge["completed"] == 1


async def test_purge_after_per_file_and_when_nothing_was_deleted(tmp_path: Path) -> None:
    """Files mode purges each deleted file's URL; a run that deleted nothing purges nothing."""
    async with FakeImageKit(KEY) as server:
        server.purge.pending_polls = 0
        settings = Settings(base_url=server.url)
        plan = PurgePlan("files", ENDPOINT, None, 100)
        urls = {"a": ENDPOINT + "/x/a.jpg", "b": ENDPOINT + "/x/b.jpg"}
        sink = DeletedIds()
        sink.deleted(["a", "b"])
        for method in (sink.invalid, sink.duplicate, sink.missing, sink.failed, sink.not_attempted):
            assert method.__doc__ == "Not a delete."
        done = await purge_after(
            plan, report(None, 2), private_key=KEY, settings=settings, urls=urls, deleted=sink.ids
        )
        assert server.purge.purged == list(urls.values())
        assert done.purge is not None and done.purge["requests"] == 2
        nothing = await purge_after(
            plan, report(tmp_path, 0), private_key=KEY, settings=settings, urls=urls, deleted=[]
        )
        assert nothing.purge is not None and nothing.purge["refused"] == "nothing was deleted"
        assert len(server.purge.purged) == 2


def test_cdn_note(tmp_path: Path) -> None:
    """After a live delete without --purge-cache, the note says the CDN may still serve the
    files and a command that purges them after the fact (for a report directory, one that
    `bulkdel purge` accepts for it); never after a dry run, a purge, or nothing deleted."""
    ids_note = cdn_note(report(None, 5))
    assert ids_note is not None and "may still serve the 5 deleted files" in ids_note
    assert "ids only" in ids_note and "'bulkdel purge --folder FOLDER'" in ids_note
    selected = cdn_note(replace(report(None, 5), selection={"cutoff": None}))
    assert selected is not None and "'bulkdel purge REPORT_DIR'" in selected
    in_dir = cdn_note(replace(report(None, 5), selection={}, report_dir=tmp_path), {})
    assert in_dir is not None and "'bulkdel purge --folder FOLDER'" in in_dir  # no manifest
    ids = [f"{i:024x}" for i in range(5)]
    (tmp_path / "deleted.txt").write_text("".join(i + "\n" for i in ids))
    (tmp_path / "manifest.jsonl").write_text(
        "".join(json.dumps({"fileId": i, "url": f"{ENDPOINT}/{i}.jpg"}) + "\n" for i in ids)
    )
    in_dir = cdn_note(replace(report(None, 5), selection={}, report_dir=tmp_path), {})
    assert in_dir is not None and f"'bulkdel purge {tmp_path}'" in in_dir
    recorded = replace(report(None, 5), manifest={"records": 5, "file": "manifest.jsonl"})
    assert "'bulkdel purge REPORT_DIR'" in (cdn_note(recorded) or "")
    assert cdn_note(replace(report(None, 5), purge={"requests": 1})) is None
    assert cdn_note(report(None, 5, dry_run=True)) is None
    assert cdn_note(report(None, 0)) is None


async def test_check_api_runs_unless_skipped() -> None:
    """The preflight runs with a key, and not with --no-preflight or without a key."""
    async with FakeImageKit("another_key_0123456789") as server:
        settings = Settings(base_url=server.url)
        await check_api(settings, KEY, skip=True)
        await check_api(settings, None, skip=False)
        assert server.stats.list_requests == 0
        with pytest.raises(FatalAPIError):
            await check_api(settings, KEY, skip=False)
