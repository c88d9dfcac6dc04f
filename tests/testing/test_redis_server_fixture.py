"""The private redis-server fixture: started on its own port, answers, stops and restarts."""

from __future__ import annotations

import socket

from tests.redis_server import RedisServer


def _ping(port: int) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=2) as conn:
        conn.sendall(b"PING\r\n")
        return conn.recv(16)


def test_fixture_server_answers_and_restarts(redis_server: RedisServer) -> None:
    """The fixture's server is not the machine's 6379 and comes back after a stop."""
    assert redis_server.port != 6379
    assert _ping(redis_server.port).startswith(b"+PONG")
    redis_server.stop()
    redis_server.start()
    assert _ping(redis_server.port).startswith(b"+PONG")
