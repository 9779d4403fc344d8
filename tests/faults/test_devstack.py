"""`buildcrm.devstack` stops everything it started on SIGTERM (a supervisor, `docker stop`, `kill`), not only on
Ctrl-C: the child command, the Procfile's processes and the embedded PostgreSQL and Redis."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import psutil
import pytest
import redis

from tests.faults.stack import ROOT, wait_until

pytestmark = pytest.mark.faults

# The child reports who it is and what devstack gave it, then waits to be stopped.
CHILD = """
import json, os, sys, time
with open(sys.argv[1] + ".tmp", "w") as f:
    json.dump({"pid": os.getpid(), "database_url": os.environ["DATABASE_URL"],
               "redis_url": os.environ["REDIS_URL"]}, f)
os.rename(sys.argv[1] + ".tmp", sys.argv[1])
time.sleep(600)
"""


def gone(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


def own_env() -> dict:
    """Without DATABASE_URL / REDIS_URL devstack starts its embedded servers."""
    return {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL")}


def test_sigterm_stops_the_child_and_the_embedded_servers(tmp_path):
    report = tmp_path / "child.json"
    devstack = subprocess.Popen([sys.executable, "-m", "buildcrm.devstack", "--tmp", "--", sys.executable, "-c",
                                 CHILD, str(report)], cwd=ROOT, env=own_env(), stdout=subprocess.DEVNULL,
                                start_new_session=True)
    try:
        child = wait_until(lambda: report.exists() and json.loads(report.read_text()), what="the child to start")
        pg_dir = Path(child["database_url"].split("host=", 1)[1])
        postmaster = int((pg_dir / "postmaster.pid").read_text().split()[0])
        redis_server = redis.Redis.from_url(child["redis_url"]).info()["process_id"]
        assert not any(gone(pid) for pid in (child["pid"], postmaster, redis_server))

        devstack.send_signal(signal.SIGTERM)
        assert devstack.wait(timeout=60) == 128 + signal.SIGTERM
    finally:
        if devstack.poll() is None:
            os.killpg(devstack.pid, signal.SIGKILL)
    wait_until(lambda: gone(child["pid"]) and gone(postmaster) and gone(redis_server),
               what="the child, PostgreSQL and Redis to stop",
               detail=lambda: f": {[p for p in (child['pid'], postmaster, redis_server) if not gone(p)]} still run")
    assert not pg_dir.parent.exists(), "the throwaway data directory is removed"


def test_sigterm_stops_every_procfile_process(tmp_path):
    procfile = tmp_path / "Procfile"
    procfile.write_text("".join(f"p{n}: echo $$ > {tmp_path}/p{n}.pid; exec sleep 600\n" for n in range(2)))
    devstack = subprocess.Popen([sys.executable, "-m", "buildcrm.devstack", "procfile", str(procfile)], cwd=ROOT,
                                env=own_env(), stdout=subprocess.DEVNULL, start_new_session=True)
    pidfiles = [tmp_path / f"p{n}.pid" for n in range(2)]
    try:
        pids = wait_until(lambda: all(f.exists() and f.read_text().strip() for f in pidfiles)
                          and [int(f.read_text()) for f in pidfiles], what="the Procfile's processes")
        devstack.send_signal(signal.SIGTERM)
        assert devstack.wait(timeout=60) == 128 + signal.SIGTERM
    finally:
        if devstack.poll() is None:
            os.killpg(devstack.pid, signal.SIGKILL)
    wait_until(lambda: all(gone(pid) for pid in pids), what="the Procfile's processes to stop")
