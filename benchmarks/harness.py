"""Process plumbing for the benchmarks: id files, the fake server, timed child processes.

Every contender and every fake server runs as its own child process on loopback, so each one's
peak RSS is its own (read with ``os.wait4``, which reports the rusage of that one child, unlike
``RUSAGE_CHILDREN``, whose ``ru_maxrss`` is the largest of all children waited for so far).
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

KEY = "bench_private_key_0123456789"
#: where child processes run; ``python -m`` puts it first on their sys.path, so a snapshot of
#: the code placed here (see ``snapshot``) is what they import
CHILD_CWD: Path | None = None
STATS_PATH = "/_fake/stats"
#: odd, so multiplying by it is a bijection modulo 2**96: distinct, random-looking 24-hex ids
_MIX = 0x9E3779B97F4A7C15F39CC060


def make_id(index: int) -> str:
    """The ``index``-th benchmark id: 24 lowercase hex characters, like ImageKit's."""
    return f"{(index * _MIX) % (1 << 96):024x}"


def extend_ids(path: Path, have: int, count: int) -> int:
    """Grow the id file at ``path`` from its first ``have`` ids to ``count`` (the first
    ``n`` ids are the same whatever the size, so one file serves every scale point)."""
    if have == 0:
        path.write_bytes(b"")
    chunk = 100_000
    with path.open("a", encoding="ascii") as handle:
        for start in range(have, count, chunk):
            stop = min(count, start + chunk)
            handle.write("".join(make_id(i) + "\n" for i in range(start, stop)))
    return count


def write_ids(path: Path, count: int) -> Path:
    """Write ``count`` distinct deterministic ids to ``path``, one a line; returns the path."""
    chunk = 100_000
    with path.open("w", encoding="ascii") as handle:
        for start in range(0, count, chunk):
            stop = min(count, start + chunk)
            handle.write("".join(make_id(i) + "\n" for i in range(start, stop)))
    return path


@dataclass
class ProcResult:
    """What one child process did."""

    argv: list[str]
    returncode: int
    wall_s: float
    #: peak resident set size of that child alone, in MiB
    peak_rss_mib: float
    timed_out: bool
    stdout: str
    stderr: str
    started_at: float = 0.0  # time.time() when launched
    #: CPU seconds (user and system) that child used: on a shared machine, a steadier
    #: measure of what a contender costs than its wall time
    cpu_s: float = 0.0

    def json_stdout(self) -> dict[str, Any] | None:
        """The last JSON object line printed on stdout, if any."""
        for line in reversed(self.stdout.splitlines()):
            line = line.strip()
            if line.startswith("{"):
                with contextlib.suppress(ValueError):
                    value = json.loads(line)
                    if isinstance(value, dict):
                        return value
        # bulkdel --json may pretty-print: try the whole text
        with contextlib.suppress(ValueError):
            value = json.loads(self.stdout)
            if isinstance(value, dict):
                return value
        return None


def run_timed(
    argv: list[str], *, env: dict[str, str] | None = None, timeout: float = 600.0
) -> ProcResult:
    """Run ``argv`` to completion (SIGINT, then SIGKILL, after ``timeout`` s) and measure it."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        started_at = time.time()
        start = time.perf_counter()
        proc = subprocess.Popen(
            argv, stdout=out, stderr=err, stdin=subprocess.DEVNULL, env=env, cwd=CHILD_CWD
        )
        deadline = start + timeout
        timed_out = False
        signalled = 0
        while True:
            pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
            if pid:
                break
            now = time.perf_counter()
            if now > deadline:
                timed_out = True
                # a polite SIGINT first (bulkdel settles and writes its report), then force
                sig = signal.SIGINT if signalled == 0 else signal.SIGKILL
                with contextlib.suppress(ProcessLookupError):
                    proc.send_signal(sig)
                signalled += 1
                deadline = now + 10.0
            time.sleep(0.02)
        wall = time.perf_counter() - start
        proc.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        return ProcResult(
            argv=argv,
            returncode=proc.returncode,
            wall_s=wall,
            peak_rss_mib=usage.ru_maxrss / 1024.0,  # Linux reports KiB
            timed_out=timed_out,
            stdout=out.read().decode("utf-8", "replace"),
            stderr=err.read().decode("utf-8", "replace")[-4000:],
            started_at=started_at,
            cpu_s=usage.ru_utime + usage.ru_stime,
        )


@dataclass
class Sample:
    """One reading of the fake server's counters."""

    t: float  # seconds since the server started listening
    requests: int
    ids_deleted: int
    throttled: int  # 429 answers so far


@dataclass
class FakeServer:
    """A fake ImageKit server in its own process on 127.0.0.1, optionally sampled.

    Args:
        rate: requests per second before 429 (``--rate``).
        windows: fixed windows as ``(limit, seconds)`` (``--window LIMIT/SECONDS``).
        sample_every: seconds between ``/_fake/stats`` readings, 0 for none.
    """

    rate: float | None = None
    windows: tuple[tuple[int, float], ...] = ()
    sample_every: float = 0.0
    #: more ``bulkdel fake-server`` options (``--limit-headers none``, faults, ...)
    extra_args: tuple[str, ...] = ()
    url: str = ""
    #: time.time() when the server said it was listening: the origin of its fixed windows
    origin: float = 0.0
    samples: list[Sample] = field(default_factory=list)
    _proc: subprocess.Popen[str] | None = None
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def __enter__(self) -> FakeServer:
        argv = [sys.executable, "-m", "bulkdel.testing", "--port", "0", "--private-key", KEY]
        if self.rate is not None:
            argv += ["--rate", str(self.rate)]
        for limit, seconds in self.windows:
            argv += ["--window", f"{limit}/{seconds:g}"]
        argv += self.extra_args
        with tempfile.TemporaryFile() as err:
            self._proc = subprocess.Popen(
                argv, stdout=subprocess.PIPE, stderr=err, text=True, cwd=CHILD_CWD
            )
            assert self._proc.stdout is not None
            line = self._proc.stdout.readline()
            if "listening on " not in line:
                self._proc.kill()
                self._proc.wait()
                err.seek(0)
                tail = err.read().decode("utf-8", "replace")[-2000:]
                raise RuntimeError(f"fake server did not start: {line!r}\n{tail}")
        self.origin = time.time()
        self.url = line.rsplit("listening on ", 1)[1].strip()
        if self.sample_every > 0:
            self._thread = threading.Thread(target=self._sample_loop, daemon=True)
            self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        if self._proc is not None:
            self._proc.send_signal(signal.SIGTERM)
            try:
                self._proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait()
            if self._proc.stdout is not None:
                self._proc.stdout.close()

    def cpu_s(self) -> float:
        """CPU seconds the server process has used so far."""
        assert self._proc is not None
        return process_cpu_s(self._proc.pid)

    def stats(self) -> dict[str, Any]:
        """The server's counters now."""
        with urllib.request.urlopen(self.url + STATS_PATH, timeout=10) as answer:
            data: dict[str, Any] = json.load(answer)
            return data

    def _sample_loop(self) -> None:
        while not self._stop.is_set():
            with contextlib.suppress(OSError, ValueError):
                stats = self.stats()
                self.samples.append(
                    Sample(
                        t=round(time.time() - self.origin, 3),
                        requests=stats["requests"],
                        ids_deleted=stats["ids_deleted"],
                        throttled=stats["by_status"].get("429", 0),
                    )
                )
            self._stop.wait(self.sample_every)


def compile_bulkdel(root: Path | None) -> None:
    """Compile the measured bulkdel's modules to bytecode, as installing a package does.

    The SDK and aiohttp come compiled from their wheels; a checkout run with
    ``PYTHONDONTWRITEBYTECODE`` set (as on this machine) would compile every bulkdel module at
    every start, a cost no installed bulkdel pays.
    """
    package = (root or Path(__file__).resolve().parent.parent) / "bulkdel"
    if package.is_dir():
        subprocess.run([sys.executable, "-m", "compileall", "-q", str(package)], check=True)


def snapshot(ref: str, into: Path) -> Path:
    """Put ``bulkdel/`` as committed at ``ref``, and this ``benchmarks/``, in ``into``.

    The benchmarks then measure committed code even while the working tree is being edited.
    """
    root = Path(__file__).resolve().parent.parent
    into.mkdir(parents=True, exist_ok=True)
    archive = subprocess.run(
        ["git", "archive", "--format=tar", ref, "bulkdel"],
        cwd=root,
        capture_output=True,
        check=True,
    )
    subprocess.run(["tar", "-x", "-C", str(into)], input=archive.stdout, check=True)
    shutil.copytree(Path(__file__).parent, into / "benchmarks", dirs_exist_ok=True)
    return into


def process_cpu_s(pid: int) -> float:
    """CPU seconds (user and system) process ``pid`` has used so far (Linux ``/proc``)."""
    with open(f"/proc/{pid}/stat", encoding="ascii") as stat:
        fields = stat.read().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def child_env(**extra: str) -> dict[str, str]:
    """The environment for a contender: ours, the key, and no proxies for loopback."""
    env = dict(os.environ)
    env.update(IMAGEKIT_PRIVATE_KEY=KEY, NO_PROXY="127.0.0.1,localhost", no_proxy="127.0.0.1")
    env.update(extra)
    return env


def other_client(url: str, rate: float) -> subprocess.Popen[str]:
    """Another client of the account (``budget_contenders other-client``) spending ``rate``
    requests per second on the server at ``url``, never retrying; returns once it is ready."""
    argv = [sys.executable, "-m", "benchmarks.budget_contenders", "other-client"]
    argv += ["--base-url", url, "--key", KEY, "--rate", str(rate)]
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, text=True, env=child_env(), cwd=CHILD_CWD)
    assert proc.stdout is not None
    proc.stdout.readline()  # "ready"
    return proc


def stop_other_client(proc: subprocess.Popen[str]) -> dict[str, Any]:
    """Stop an ``other_client``; what it said last (its requests, their statuses), or {}."""
    proc.terminate()
    out, _ = proc.communicate(timeout=30)
    lines = [line for line in out.splitlines() if line.startswith("{")]
    return dict(json.loads(lines[-1])) if lines else {}
