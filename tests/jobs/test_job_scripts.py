"""The job's Lua scripts are package resources (``bulkdel/jobs/*.lua``), each loaded once by
``bulkdel.jobs.scripts`` and shipped as package data; each compiles on a real Redis."""

from __future__ import annotations

import tomllib
from pathlib import Path

import redis as sync_redis

from bulkdel.jobs import scripts
from tests.redis_server import RedisServer

JOBS = Path(scripts.__file__).parent
ROOT = JOBS.parent.parent


def _constants() -> dict[str, str]:
    return {n: v for n, v in vars(scripts).items() if n.isupper() and isinstance(v, str)}


def test_every_lua_file_is_a_script_and_package_data() -> None:
    sources = {p.stem.upper(): p.read_text(encoding="utf-8") for p in JOBS.glob("*.lua")}
    assert sources == _constants()
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())
    assert "jobs/*.lua" in project["tool"]["setuptools"]["package-data"]["bulkdel"]


def test_every_script_compiles(redis_server: RedisServer) -> None:
    client = sync_redis.Redis.from_url(redis_server.url)
    try:
        for name, source in _constants().items():
            assert client.script_load(source), name
    finally:
        client.close()
