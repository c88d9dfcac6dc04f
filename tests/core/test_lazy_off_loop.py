"""A lazy export an async service first looks up inside its event loop is imported in a
worker thread, not on the loop (``bulkdel.core.lazy``); at module level it is the real one."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from bulkdel.core.lazy import lazy_getattr

PROBE = textwrap.dedent(
    """
    import asyncio, sys, tempfile, threading
    import bulkdel

    threads = []

    class Spy:
        # a meta path finder that only notes which thread imports bulkdel.delete.deleter
        def find_spec(self, name, path=None, target=None):
            if name == "bulkdel.delete.deleter":
                threads.append(threading.current_thread() is threading.main_thread())
            return None

    sys.meta_path.insert(0, Spy())

    async def main():
        delete = bulkdel.delete_files
        assert "bulkdel.delete.deleter" not in sys.modules
        with tempfile.TemporaryDirectory() as tmp:
            report = await delete(["a" * 24], private_key="k", dry_run=True,
                                  report_dir=tmp + "/r")
        assert report.counts.unique == 1
        again = bulkdel.delete_files  # imported now: the real function, kept
        assert again is sys.modules["bulkdel.delete.deleter"].delete_files
        return delete is not again

    stand_in = asyncio.run(main())
    print(stand_in, threads)
    """
)


def test_the_engine_is_imported_off_the_loop_when_first_looked_up_in_it() -> None:
    """Looked up in a running loop, ``bulkdel.delete_files`` is a stand-in whose first call
    imports the engine in a worker thread; afterwards the attribute is the real function."""
    out = subprocess.run(
        [sys.executable, "-c", PROBE], capture_output=True, text=True, check=True, timeout=120
    )
    assert out.stdout.split() == ["True", "[False]"], out.stdout + out.stderr


def test_outside_a_loop_the_export_is_the_real_function() -> None:
    """No loop running: the lazy export imports at once, as before."""
    code = (
        "import bulkdel, sys; f = bulkdel.delete_files; "
        "print(f is sys.modules['bulkdel.delete.deleter'].delete_files)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "True"


async def test_the_stand_in_imports_in_a_thread_then_calls(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """In process: a module not imported yet is imported by a worker thread, then called."""
    (tmp_path / "offloop_probe.py").write_text(
        "import threading\n"
        "IMPORTED_IN_MAIN = threading.current_thread() is threading.main_thread()\n"
        "async def work(x):\n    return x * 2\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delitem(sys.modules, "offloop_probe", raising=False)
    namespace: dict[str, object] = {}
    getattr_ = lazy_getattr("offloop", {"work": "offloop_probe"}, namespace, off_loop={"work"})
    work = getattr_("work")
    assert work.__name__ == "work"
    assert await work(21) == 42
    assert sys.modules["offloop_probe"].IMPORTED_IN_MAIN is False
    assert await work(1) == 2  # imported now: no thread
    assert getattr_("work") is sys.modules["offloop_probe"].work
    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        getattr_("nope")


CONCURRENT = textwrap.dedent(
    """
    import asyncio
    import bulkdel

    async def one(n):
        from bulkdel import delete_batch  # looked up in the loop, as a service does

        await asyncio.sleep(n * 0.02)  # some are called while the first still imports
        try:
            await delete_batch(["not an id!"], private_key="k")
        except Exception as error:  # the real function refuses the id: it was reached
            return type(error).__name__
        return "no error"

    async def main():
        return await asyncio.gather(*(one(n) for n in range(8)))

    print(" ".join(asyncio.run(main())))
    """
)


@pytest.mark.parametrize("attempt", range(4))
def test_eight_first_calls_at_once_all_reach_the_real_function(attempt: int) -> None:
    """Eight first calls started within moments in a fresh interpreter's loop each reach the real
    function once its module is whole (fails before: a second caller took the module while
    the first was still importing it, and got an AttributeError)."""
    out = subprocess.run(
        [sys.executable, "-c", CONCURRENT], capture_output=True, text=True, check=True, timeout=120
    )
    assert out.stdout.split() == ["UsageError"] * 8, out.stdout + out.stderr
