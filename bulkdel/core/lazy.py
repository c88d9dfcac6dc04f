"""Exports imported on first use, so that ``import bulkdel`` (and the command line building
its options) does not pay for aiohttp, numpy and the engine until something needs them.

The price of a lazy export is paid where it is first looked up. For the coroutine functions
an async service calls (``delete_files``, ``delete_batch``), that may be inside a running
event loop, where the import (the engine, numpy, aiohttp: 0.3 s and more) would hold the
loop; looked up there before their module is imported, they come back as a stand-in that
first imports the module in a worker thread (the loop goes on meanwhile), then calls the
real function. Imported at module level (``from bulkdel import delete_files``) they are the
real functions, imported at the caller's own import time.
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
from collections.abc import Callable, Collection, Mapping
from types import ModuleType
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import concurrent.futures


def lazy_getattr(
    package: str,
    where: Mapping[str, str],
    namespace: dict[str, Any],
    *,
    off_loop: Collection[str] = (),
) -> Callable[[str], Any]:
    """A module ``__getattr__`` for ``package``: ``where`` maps each export to the relative
    module that defines it; a name is imported once, then kept in ``namespace``. Names in
    ``off_loop`` (coroutine functions) looked up in a running event loop before their module
    is imported come back as a stand-in that imports it in a thread first."""

    def __getattr__(name: str) -> Any:
        module = where.get(name)
        if module is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        absolute = importlib.util.resolve_name(module, package)
        if name in off_loop and absolute not in sys.modules and _loop_running():
            return _imported_off_loop(absolute, name)
        value = getattr(importlib.import_module(absolute), name)
        namespace[name] = value
        return value

    return __getattr__


def _loop_running() -> bool:
    # No loop runs unless asyncio was imported: not importing it keeps ``bulkdel --version``
    # as light as it was.
    asyncio = sys.modules.get("asyncio")
    return asyncio is not None and asyncio.events._get_running_loop() is not None


#: imports under way in a worker thread, by module: every stand-in of that module waits for
#: the same one (a second caller must never take the module while it is half imported)
_IMPORTS: dict[str, concurrent.futures.Future[ModuleType]] = {}


def _whole(module: str) -> ModuleType | None:
    """``module`` if it is imported and done initialising, else None."""
    loaded = sys.modules.get(module)
    spec = getattr(loaded, "__spec__", None)
    if loaded is None or getattr(spec, "_initializing", False):
        return None
    return loaded


def _import_in_thread(module: str) -> concurrent.futures.Future[ModuleType]:
    """The one import of ``module`` in a worker thread (started by the first caller)."""
    # imported here, not with bulkdel: ``bulkdel --version`` stays as light as it was
    import concurrent.futures
    import threading

    mine: concurrent.futures.Future[ModuleType] = concurrent.futures.Future()
    future = _IMPORTS.setdefault(module, mine)  # atomic: one caller's future wins
    if future is mine:
        threading.Thread(
            target=_import_into, args=(module, future), name=f"import {module}", daemon=True
        ).start()
    return future


def _import_into(module: str, future: concurrent.futures.Future[ModuleType]) -> None:
    try:
        future.set_result(importlib.import_module(module))
    except BaseException as error:
        _IMPORTS.pop(module, None)  # a later call tries again
        future.set_exception(error)


def _imported_off_loop(module: str, name: str) -> Callable[..., Any]:
    """A coroutine function that imports ``module`` in a thread, then awaits ``name``."""

    async def call(*args: Any, **kwargs: Any) -> Any:
        loaded = _whole(module)
        if loaded is None:
            import asyncio  # imported already: a loop is running

            loaded = await asyncio.wrap_future(_import_in_thread(module))
        return await getattr(loaded, name)(*args, **kwargs)

    call.__name__ = call.__qualname__ = name
    call.__doc__ = f"``{module}.{name}``, its module imported off the event loop first."
    return call
