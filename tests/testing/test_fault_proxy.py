"""The TCP fault proxy the distributed tests put between processes: each fault is real."""

from __future__ import annotations

import asyncio
import gc
import logging
import socket
import threading

import pytest
from redis.asyncio import Redis
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from tests.fault_proxy import FaultProxy
from tests.redis_server import RedisServer


async def test_bytes_pass_stall_and_flow_on(redis_server: RedisServer) -> None:
    """A stalled proxy holds a command past the client's timeout; resumed, the held bytes
    arrive and the server runs the command (what a frozen Redis does)."""
    with FaultProxy(("127.0.0.1", redis_server.port)) as proxy:
        client = Redis(port=proxy.port, socket_timeout=0.5)
        try:
            assert await client.set("k", "1")
            proxy.stall()
            with pytest.raises(RedisTimeoutError):
                await client.incr("k")
            proxy.resume()
            direct = Redis(port=redis_server.port)
            for _ in range(100):
                if await direct.get("k") == b"2":
                    break
                await asyncio.sleep(0.02)
            assert await direct.get("k") == b"2"  # the timed-out INCR still ran
            await direct.aclose()
        finally:
            await client.aclose()


async def test_cut_resets_and_refuses_until_resumed(redis_server: RedisServer) -> None:
    """After ``cut`` the client's connection is reset and new ones are refused."""
    with FaultProxy(("127.0.0.1", redis_server.port)) as proxy:
        client = Redis(port=proxy.port, socket_timeout=1.0)
        try:
            assert await client.ping()
            proxy.cut()
            with pytest.raises(RedisConnectionError):
                await client.ping()
            proxy.resume()
            assert await client.ping()
            assert proxy.connections >= 2
        finally:
            await client.aclose()


def test_leaving_ends_every_task_of_the_proxy(caplog: pytest.LogCaptureFixture) -> None:
    """Leaving the proxy with a stalled connection open leaves no pending task behind
    (asyncio logs "Task was destroyed but it is pending!" when one is collected)."""
    with socket.create_server(("127.0.0.1", 0)) as target:
        proxy = FaultProxy(("127.0.0.1", target.getsockname()[1]))
        with proxy, socket.create_connection(("127.0.0.1", proxy.port)) as client:
            proxy.stall()
            client.sendall(b"held")
            for _ in range(200):  # the proxy has accepted and dialled the target
                if proxy.connections:
                    break
                threading.Event().wait(0.01)
            assert proxy.connections == 1
        with caplog.at_level(logging.ERROR, logger="asyncio"):
            del proxy
            gc.collect()
    assert [r.getMessage() for r in caplog.records if "destroyed" in r.getMessage()] == []
