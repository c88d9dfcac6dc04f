"""A caller's own ``mypy --strict`` sees bulkdel's types (README's install: an editable install
that type checkers can follow), and a misspelt keyword to a public constructor fails it."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

CALLER = textwrap.dedent(
    """
    import asyncio

    import bulkdel
    from bulkdel import BatchOutcome, DeleteClient, ListingClient, Report, Settings


    async def purge(ids: list[str]) -> Report:
        return await bulkdel.delete_files(ids, private_key="k", rate=20.0)


    async def one(ids: list[str]) -> BatchOutcome:
        return await bulkdel.delete_batch(ids, private_key="k")


    client = DeleteClient("k", base_url="https://api.imagekit.io", timeout=5.0)
    listing = ListingClient("k", connections=4)
    settings = Settings(concurrency=4)
    report: Report = asyncio.run(purge(["a" * 24]))
    DeleteClient("k", base_urll="https://api.imagekit.io")  # misspelt
    ListingClient("k", conections=4)  # misspelt
    """
)


def test_a_callers_mypy_strict_sees_the_types_and_refuses_a_misspelt_keyword(
    tmp_path: Path,
) -> None:
    """The caller's code type-checks under --strict except the two misspelt keywords (fails
    before: ``**options: Any`` let them through; and with the old editable install mypy
    could not find bulkdel at all)."""
    caller = tmp_path / "caller.py"
    caller.write_text(CALLER)
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "MYPYPATH")}
    done = subprocess.run(
        [sys.executable, "-m", "mypy", "--strict", "--cache-dir", str(tmp_path / "cache"),
         "--no-error-summary", str(caller)],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )  # fmt: skip
    errors = [line for line in done.stdout.splitlines() if ": error:" in line]
    misspelt = [str(n) for n, line in enumerate(CALLER.splitlines(), 1) if "misspelt" in line]
    assert [e.split(":")[1] for e in errors] == misspelt, done.stdout + done.stderr
    assert all('Unexpected keyword argument "' in e for e in errors), errors


PROVIDERS = textwrap.dedent(
    """
    from opentelemetry.sdk.metrics import MeterProvider
    from opentelemetry.sdk.trace import TracerProvider

    import bulkdel
    from bulkdel.telemetry import run_observer


    async def traced(ids: list[str]) -> bulkdel.Report:
        return await bulkdel.delete_files(
            ids, private_key="k", meter_provider=MeterProvider(), tracer_provider=TracerProvider()
        )


    deleter = bulkdel.BulkDeleter("k", meter_provider=MeterProvider())
    observer = run_observer(tracer_provider=TracerProvider())
    bulkdel.BulkDeleter("k", meter_provider=TracerProvider())  # wrong
    bulkdel.BulkDeleter("k", tracer_provider=MeterProvider())  # wrong
    run_observer(meter_provider=object())  # wrong


    async def console(ids: list[str]) -> None:
        await bulkdel.delete_files(ids, private_key="k", tracer_provider="console")  # wrong
    """
)


def test_a_wrong_opentelemetry_provider_fails_a_callers_mypy(tmp_path: Path) -> None:
    """OpenTelemetry's providers pass ``mypy --strict``; a meter provider given as a tracer
    provider (or a str, or an object) fails it (fails before: both were ``Any``). Checked
    against this checkout's bulkdel (``MYPYPATH``), its own errors silenced as an installed
    package's are."""
    caller = tmp_path / "caller.py"
    caller.write_text(PROVIDERS)
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    env["MYPYPATH"] = str(Path(__file__).resolve().parent.parent)
    done = subprocess.run(
        [sys.executable, "-m", "mypy", "--strict", "--cache-dir", str(tmp_path / "cache"),
         "--follow-imports", "silent", "--no-error-summary", str(caller)],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )  # fmt: skip
    errors = [line for line in done.stdout.splitlines() if ": error:" in line]
    wrong = [str(n) for n, line in enumerate(PROVIDERS.splitlines(), 1) if "# wrong" in line]
    assert sorted({e.split(":")[1] for e in errors}, key=int) == wrong, done.stdout + done.stderr
    assert all("Argument" in e and "incompatible type" in e for e in errors), errors
