"""/metrics on the platform host: the bearer token, the counters moved by real webhook, send, AI and follow-up
flows, the values read at scrape (queue depth, drain lag, follow-ups due), the websocket gauge, and the
multiprocess mode that adds up the samples of several processes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from datetime import timedelta
from pathlib import Path

import pytest
from django.test import Client
from django.utils import timezone
from django_tenants.utils import tenant_context

from core.redis_client import redis_client
from tenants.services import tenant_config_import
from tests.conftest import webhook_path
from tests.ops.metrics_helpers import TOKEN, scrape, value

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(autouse=True)
def metrics_token(settings):
    settings.METRICS_TOKEN = TOKEN


def chatflow(phone: str = "77011112233", text: str = "Здравствуйте") -> bytes:
    return json.dumps(
        {
            "messageType": "text",
            "message": text,
            "metadata": {
                "remoteJid": f"{phone}@s.whatsapp.net",
                "messageId": uuid.uuid4().hex,
                "timestamp": 1735000000,
                "instanceId": "inst-1",
                "sender": "Ерлан",
            },
        }
    ).encode()


@pytest.fixture
def chatflow_a(tenant_a):
    tenant_config_import(
        tenant_a,
        {
            "channels": {
                "chatflow": {"api_url": "https://chatflow.example/api/v1", "token": "cf-token", "instance_id": "inst-1"}
            }
        },
    )
    return tenant_a


@pytest.mark.django_db
def test_token_required(settings):
    web = Client(HTTP_HOST="localhost")
    assert web.get("/metrics", HTTP_AUTHORIZATION=f"Bearer {TOKEN}").status_code == 200
    for header in (
        {},
        {"HTTP_AUTHORIZATION": "Bearer wrong"},
        {"HTTP_AUTHORIZATION": f"Basic {TOKEN}"},
        {"HTTP_AUTHORIZATION": f"Bearer {TOKEN}x"},
        {"HTTP_AUTHORIZATION": "Bearer \u00e9"},
    ):
        response = web.get("/metrics", **header)
        assert response.status_code == 401 and response["WWW-Authenticate"].startswith("Bearer")
        assert b"buildcrm_" not in response.content
    settings.METRICS_TOKEN = ""  # not configured: the endpoint does not exist
    assert web.get("/metrics", HTTP_AUTHORIZATION="Bearer ").status_code == 404


@pytest.mark.django_db
def test_not_on_a_tenant_host(tenant_a):
    response = Client(HTTP_HOST="alpha.localhost").get("/metrics", HTTP_AUTHORIZATION=f"Bearer {TOKEN}")
    assert b"buildcrm_webhooks_total" not in response.content


@pytest.mark.django_db
def test_webhooks_by_provider_and_status_and_messages_stored(chatflow_a):
    web = Client(HTTP_HOST="localhost")
    before = scrape()
    path = webhook_path(chatflow_a, "chatflow")
    for _ in range(2):
        assert web.post(path, chatflow(), content_type="application/json").status_code == 200
    assert web.post(path, b"{not json", content_type="application/json").status_code == 400
    assert web.post("/webhooks/chatflow/nope/", chatflow(), content_type="application/json").status_code == 404
    assert web.post("/webhooks/evil<script>/x/", chatflow(), content_type="application/json").status_code == 404
    after = scrape()

    def moved(name, **labels):
        return value(after, name, **labels) - value(before, name, **labels)

    assert moved("buildcrm_webhooks_total", provider="chatflow", status="200") == 2
    assert moved("buildcrm_webhooks_total", provider="chatflow", status="400") == 1
    assert moved("buildcrm_webhooks_total", provider="chatflow", status="404") == 1
    assert moved("buildcrm_webhooks_total", provider="other", status="404") == 1  # never the attacker's text
    assert moved("buildcrm_messages_total", channel="chatflow", event="stored") == 2
    # Stored, not yet drained by a worker: the drain lag is the age of the oldest waiting message.
    assert value(after, "buildcrm_inbound_drain_lag_seconds") >= 0
    assert not any("evil" in str(key) for key in after)


@pytest.mark.django_db
def test_drain_lag_queue_depth_and_followups_due(tenant_a):
    from conversations.models import Message
    from followups.models import FollowUp
    from leads.models import Lead, Stage

    with tenant_context(tenant_a):
        lead = Lead.objects.create(name="Lag", phone="+77010000001", stage=Stage.objects.first())
        message = Message.objects.create(lead=lead, direction="in", text="hi", provider="sandbox", inbound_pending=True)
        Message.objects.filter(pk=message.pk).update(created_at=timezone.now() - timedelta(seconds=120))
        FollowUp.objects.create(
            lead=lead, kind="followup", step=1, text="?", due_at=timezone.now() - timedelta(minutes=1)
        )
    redis = redis_client()
    redis.delete("celery")
    redis.lpush("celery", "a", "b", "c")
    try:
        samples = scrape()
    finally:
        redis.delete("celery")
    assert value(samples, "buildcrm_celery_queue_depth", queue="celery") == 3
    assert 119 <= value(samples, "buildcrm_inbound_drain_lag_seconds") < 600
    assert value(samples, "buildcrm_followups_overdue") >= 1


def test_multiprocess_samples_add_up(tmp_path, settings, monkeypatch, db):
    """Two processes count webhooks into one PROMETHEUS_MULTIPROC_DIR; /metrics reports their sum."""
    code = (
        "from core import metrics\n"
        "import sys\n"
        "for _ in range(int(sys.argv[1])): metrics.webhook_answered(provider='telegram', status=200)\n"
        "metrics.followups_sent([3.0])\n"
    )
    env = {**os.environ, "PROMETHEUS_MULTIPROC_DIR": str(tmp_path)}
    for count in (2, 3):
        subprocess.run([sys.executable, "-c", code, str(count)], cwd=ROOT, env=env, check=True, timeout=60)
    assert len(list(tmp_path.glob("*.db"))) >= 2  # one file per process
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(tmp_path))
    samples = scrape()
    assert value(samples, "buildcrm_webhooks_total", provider="telegram", status="200") == 5
    assert value(samples, "buildcrm_followups_sent_total") == 2
    assert value(samples, "buildcrm_followup_lateness_seconds_count") == 2
    assert ("buildcrm_celery_queue_depth", (("queue", "celery"),)) in samples  # scrape-time values too


def test_llm_reasons_are_bounded():
    from core.metrics import llm_reason

    assert llm_reason("HTTP 503 from the model") == "http_5xx"
    assert llm_reason("ReadTimeout: timed out") == "timeout"
    assert llm_reason("429 Too Many Requests") == "rate_limited"
    assert llm_reason("ConnectError: [Errno 111] Connection refused") == "connection"
    assert llm_reason("x" * 100_000) == "other"


@pytest.mark.django_db
def test_dashboard_and_alerts_name_metrics_we_export():
    """Every buildcrm_* series the Grafana dashboard and the alert rules query is one /metrics exports."""
    import re

    import yaml

    from core import metrics

    metrics.followups_sent([1.0])
    metrics.followups_claimed(1)
    metrics.webhook_answered(provider="telegram", status=503)
    metrics.messages_counted(channel="sandbox", event="failed")
    metrics.websocket_opened()
    metrics.websocket_closed()
    metrics.llm_failed("timeout")
    metrics.ai_turn_observed(result="ok", seconds=0.1)
    with metrics.provider_call("sandbox"):
        pass
    exported = {name for name, _ in scrape()}
    for path in (ROOT / "deploy" / "grafana-dashboard.json", ROOT / "deploy" / "alerts.yml"):
        used = set(re.findall(r"buildcrm_[a-z_]+", path.read_text()))
        assert used and used <= exported, (path.name, used - exported)
    rules = yaml.safe_load((ROOT / "deploy" / "alerts.yml").read_text())["groups"][0]["rules"]
    assert {"BuildCRMInboundDrainLag", "BuildCRMFailedSends", "BuildCRMLLMFailures"} <= {r["alert"] for r in rules}


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _get(url: str, token: str | None = None):
    import httpx

    return httpx.get(url, headers={"Authorization": f"Bearer {token}"} if token else {}, timeout=10)


def test_a_celery_worker_serves_its_hosts_samples_on_the_metrics_port(tmp_path):
    """Several containers: each worker replica serves its own host's samples (its prefork children's, through its own
    multiprocess directory) for Prometheus to scrape; the scrape-time gauges are the web's, not repeated here."""
    import time

    from tests.ops.metrics_helpers import parse

    env = {**os.environ, "PROMETHEUS_MULTIPROC_DIR": str(tmp_path)}
    code = "from core import metrics\nfor _ in range(4): metrics.webhook_answered(provider='telegram', status=200)\n"
    subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, check=True, timeout=60)
    port = _free_port()
    env.update(METRICS_PORT=str(port), METRICS_TOKEN=TOKEN)
    worker = subprocess.Popen(  # a queue of its own: it must never take another test's tasks
        [sys.executable, "-m", "celery", "-A", "buildcrm", "worker", "--pool", "solo", "-l", "warning",
         "-Q", f"metrics-port-test-{uuid.uuid4().hex}"], cwd=ROOT, env=env, start_new_session=True,
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    url = f"http://127.0.0.1:{port}/metrics"
    try:
        deadline = time.monotonic() + 90
        while True:
            assert worker.poll() is None, worker.stderr.read().decode()[-2000:]
            try:
                response = _get(url, TOKEN)
                break
            except Exception:
                assert time.monotonic() < deadline, "the worker never served its metrics port"
                time.sleep(0.3)
        assert response.status_code == 200
        samples = parse(response.text)
        assert value(samples, "buildcrm_webhooks_total", provider="telegram", status="200") == 4
        assert not any(name == "buildcrm_celery_queue_depth" for name, _ in samples)
        assert _get(url).status_code == 401
        assert _get(url, "wrong").status_code == 401
    finally:
        worker.terminate()
        worker.wait(timeout=30)


@pytest.mark.django_db
def test_the_web_metrics_port_adds_the_scrape_time_gauges(settings):
    from buildcrm.metrics import metrics_serve
    from core import metrics
    from tests.ops.metrics_helpers import parse

    metrics.webhook_answered(provider="instagram", status=403)
    server = metrics_serve(0, scrape=True, host="127.0.0.1")
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}/anything"
        samples = parse(_get(url, TOKEN).text)
        assert value(samples, "buildcrm_webhooks_total", provider="instagram", status="403") >= 1
        assert ("buildcrm_celery_queue_depth", (("queue", "celery"),)) in samples
        assert _get(url).status_code == 401
        settings.METRICS_TOKEN = ""
        assert _get(url, TOKEN).status_code == 404  # no token configured: nothing is served
    finally:
        server.shutdown()
        server.server_close()
