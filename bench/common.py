"""Shared helpers for the benches: Django in this process, a bench tenant, server processes started the
way the Procfile starts them, and a lean asyncio HTTP/1.1 load generator.

The load generator is ours rather than wrk because the ingest bench needs an exact number of requests
with exact message ids (unique ids plus deliberate duplicates, to count lost and duplicated messages)
and an open-loop mode with a fixed arrival rate; wrk does neither. It writes pre-built request bytes on
keep-alive connections and parses only the status line and Content-Length, so it costs a few percent of
one core at these rates. Both the real app and the bare baseline are loaded by the same generator.
"""
from __future__ import annotations

import asyncio
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from buildcrm.devstack import free_port  # noqa: E402  (stdlib-only module: no Django setup needed)

PYTHON = sys.executable


def django_setup() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "buildcrm.settings")
    import django

    django.setup()


def setup_platform() -> None:
    """`manage.py setup_platform`, as a deployment runs it."""
    subprocess.run([PYTHON, "manage.py", "setup_platform"], cwd=ROOT, check=True, stdout=subprocess.DEVNULL)


def bench_tenant(slug: str, config: dict | None = None):
    """A provisioned tenant (reused when it exists) with `config` imported; AI off by default."""
    from tenants.models import Tenant
    from tenants.services import tenant_config_import, tenant_provision

    tenant = Tenant.objects.filter(slug=slug).first()
    if tenant is None:
        tenant = tenant_provision(slug=slug, name=f"Bench {slug}", owner_email=f"owner@{slug}.test",
                                  owner_password="Bench-pass-123!").tenant
    tenant_config_import(tenant, {"ai": {"enabled": False}, **(config or {})})
    tenant.refresh_from_db()
    return tenant


def webhook_path(tenant, provider: str) -> str:
    """The path of the tenant's webhook URL of `provider` (each provider has its own token)."""
    from urllib.parse import urlsplit

    from tenants.selectors import webhook_urls

    return urlsplit(webhook_urls(tenant)[provider]).path


class Server:
    """`daphne -b 127.0.0.1 -p PORT APP` (as the Procfile's web line), output to a log file."""

    def __init__(self, app: str, *, env: dict | None = None, name: str = "web") -> None:
        self.port = free_port()
        self.log_path = Path(tempfile.gettempdir()) / f"bench-{name}-{self.port}.log"
        self._log = open(self.log_path, "wb")
        command = [PYTHON, "-m", "daphne", "-b", "127.0.0.1", "-p", str(self.port), app]
        self.proc = subprocess.Popen(command, cwd=ROOT, env={**os.environ, **(env or {})},
                                     stdout=self._log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"{app} exited: see {self.log_path}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.2):
                    break
            except OSError:
                time.sleep(0.1)
        else:
            raise RuntimeError(f"{app} did not listen on {self.port}")

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
        self._log.close()

    def __enter__(self) -> Server:
        return self

    def __exit__(self, *exc) -> None:
        self.stop()


def start_workers(count: int, concurrency: int) -> list[subprocess.Popen]:
    """`count` Celery worker processes, as the Procfile's worker line starts them."""
    env = dict(os.environ, LOG_LEVEL="WARNING")
    procs = []
    for n in range(count):
        procs.append(subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", "buildcrm", "worker", "-l", "warning", "--concurrency",
             str(concurrency), "-n", f"bench{n}@%h", "--without-gossip", "--without-mingle", "--without-heartbeat"],
            cwd=ROOT, env=env))
    return procs


def stop(procs: list[subprocess.Popen]) -> None:
    for proc in procs:
        proc.send_signal(signal.SIGTERM)
    for proc in procs:
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()


def http_request(method: str, path: str, body: bytes = b"", *, host: str = "localhost",
                 headers: dict | None = None) -> bytes:
    lines = [f"{method} {path} HTTP/1.1", f"Host: {host}", f"Content-Length: {len(body)}"]
    if body:
        lines.append("Content-Type: application/json")
    lines += [f"{k}: {v}" for k, v in (headers or {}).items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


@dataclass
class Result:
    started: float = 0.0
    finished: float = 0.0
    latencies: list[float] = field(default_factory=list)  # seconds, from the scheduled send time
    statuses: dict[int, int] = field(default_factory=dict)

    @property
    def elapsed(self) -> float:
        return self.finished - self.started

    @property
    def count(self) -> int:
        return len(self.latencies)

    @property
    def rate(self) -> float:
        return self.count / self.elapsed if self.elapsed else 0.0

    def pct(self, p: float) -> float:
        return percentile(self.latencies, p) if self.latencies else float("nan")

    def summary(self) -> str:
        ms = [x * 1000 for x in self.latencies]
        return (f"{self.count} requests in {self.elapsed:.2f} s = {self.rate:.0f} req/s; latency ms "
                f"p50 {self.pct(50) * 1000:.1f} p95 {self.pct(95) * 1000:.1f} p99 {self.pct(99) * 1000:.1f} "
                f"max {max(ms):.1f} mean {statistics.fmean(ms):.1f}; statuses {self.statuses}")


async def _read_response(reader: asyncio.StreamReader) -> tuple[int, bytes]:
    head = await reader.readuntil(b"\r\n\r\n")
    status = int(head[9:12])
    length = 0
    chunked = False
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        lname = name.strip().lower()
        if lname == b"content-length":
            length = int(value.strip())
        elif lname == b"transfer-encoding" and b"chunked" in value.lower():
            chunked = True
    if chunked:
        body = b""
        while True:
            size = int((await reader.readuntil(b"\r\n")).strip(), 16)
            chunk = await reader.readexactly(size + 2)
            if size == 0:
                break
            body += chunk[:-2]
        return status, body
    return status, (await reader.readexactly(length) if length else b"")


async def _worker(port: int, queue: asyncio.Queue, result: Result, bodies: list | None) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        while True:
            item = await queue.get()
            if item is None:
                return
            scheduled, request = item
            writer.write(request)
            status, body = await _read_response(reader)
            done = time.perf_counter()
            result.latencies.append(done - scheduled)
            result.statuses[status] = result.statuses.get(status, 0) + 1
            if bodies is not None and status != 200:
                bodies.append(body[:300])
    finally:
        writer.close()


async def _closed_loop(port: int, requests: list[bytes], concurrency: int, bodies: list | None) -> Result:
    queue: asyncio.Queue = asyncio.Queue()
    result = Result()
    workers = [asyncio.create_task(_worker(port, queue, result, bodies)) for _ in range(concurrency)]
    await asyncio.sleep(0.2)  # connections open before the clock starts
    result.started = time.perf_counter()
    for request in requests:
        queue.put_nowait((time.perf_counter(), request))  # latency here includes queueing behind c
    for _ in workers:
        queue.put_nowait(None)
    await asyncio.gather(*workers)
    result.finished = time.perf_counter()
    return result


async def _open_loop(port: int, requests: list[bytes], rate: float, connections: int, bodies: list | None) -> Result:
    queue: asyncio.Queue = asyncio.Queue()
    result = Result()
    workers = [asyncio.create_task(_worker(port, queue, result, bodies)) for _ in range(connections)]
    await asyncio.sleep(0.2)
    result.started = start = time.perf_counter()
    for i, request in enumerate(requests):
        due = start + i / rate
        delay = due - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        queue.put_nowait((due, request))  # latency from the scheduled time: no coordinated omission
    for _ in workers:
        queue.put_nowait(None)
    await asyncio.gather(*workers)
    result.finished = time.perf_counter()
    return result


def closed_loop(port: int, requests: list[bytes], concurrency: int = 50, bodies: list | None = None) -> Result:
    """Saturated: `concurrency` keep-alive connections, each sending its next request when answered.
    Latencies here count from enqueueing (mostly queueing); use the rate."""
    return asyncio.run(_closed_loop(port, requests, concurrency, bodies))


def open_loop(port: int, requests: list[bytes], rate: float, connections: int = 50,
              bodies: list | None = None) -> Result:
    """Fixed arrival rate regardless of answers; latency from each request's scheduled time."""
    return asyncio.run(_open_loop(port, requests, rate, connections, bodies))


def percentile(samples: list[float], p: float) -> float:
    """Nearest-rank percentile."""
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, max(0, round(p / 100 * len(ordered)) - 1))]


def percentile_ms(samples: list[float], p: float) -> float:
    return percentile(samples, p) * 1000
