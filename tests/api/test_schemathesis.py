"""The tenant API against its own OpenAPI schema. Schemathesis drives every operation of /api/schema/ on a real
daphne server, as the owner of a fresh tenant with a few leads, messages, follow-ups and content items, through
all its phases (examples, coverage, fuzzing, stateful sequences) and all its checks: no server error, no
undocumented status code, Content-Type or header, every response body as the schema describes it, schema-invalid
input refused, schema-valid input accepted (rules the schema cannot state are named in schemathesis.toml).

A fresh tenant per run keeps it repeatable: deleting stages, deactivating users and creating content touch only
it. `ST_SEED=<seed>` replays a run (the seed is printed); `ST_MAX_EXAMPLES` changes the examples per operation."""
from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from django_tenants.utils import tenant_context

from tests.browser.conftest import daphne_server
from tests.conftest import host_of, user_of
from tests.leads.conftest import add_followup, add_message, make_lead

pytestmark = pytest.mark.live

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
MAX_EXAMPLES = int(os.environ.get("ST_MAX_EXAMPLES", "25"))


@pytest.fixture(scope="module")
def api_server(django_db_setup, tmp_path_factory):
    yield from daphne_server(tmp_path_factory)


def seed_data(tenant) -> None:
    """Something behind every list and id: leads in two stages (one assigned, one taken over), a dialog,
    follow-ups, content of several types."""
    from followups.models import Content

    owner, manager = user_of(tenant, "owner"), user_of(tenant, "manager")
    asel = make_lead(tenant, name="Асель", phone="77011112233", city="Алматы", score=80, temperature="hot",
                     assignee=manager, channel="whatsapp", source="site", campaign="spring")
    bekzat = make_lead(tenant, name="Bekzat", phone="77022223344", stage_kind="in_dialog", handler=owner,
                       channel="telegram", data={"city": "Астана", "windows": 4})
    for lead in (asel, bekzat):
        add_message(tenant, lead, text="Здравствуйте, сколько стоит дом?")
        add_message(tenant, lead, direction="out", text="Добрый день! Какой размер дома нужен?")
        add_followup(tenant, lead)
    with tenant_context(tenant):
        Content.objects.create(type="text", title="Ответы", text="Сроки — 30 дней.", tags=["faq"])
        Content.objects.create(type="link", title="Каталог", url="https://example.com/catalog", stages=["new"])
        Content.objects.create(type="album", title="Дома", items=[{"url": "https://example.com/1.jpg"},
                                                                  {"url": "https://example.com/2.jpg"}])


def owner_token(tenant) -> str:
    from rest_framework.authtoken.models import Token

    with tenant_context(tenant):
        return Token.objects.get_or_create(user=user_of(tenant, "owner"))[0].key


def test_every_operation_conforms_to_the_schema(live_tenant, api_server, tmp_path):
    seed_data(live_tenant)
    seed = os.environ.get("ST_SEED") or str(int.from_bytes(os.urandom(8), "big"))
    command = [
        sys.executable, "-m", "schemathesis.cli", "--config-file", str(HERE / "schemathesis.toml"), "run",
        f"http://127.0.0.1:{api_server.port}/api/schema/?format=json",
        "--header", f"Host: {host_of(live_tenant)}", "--header", f"Authorization: Token {owner_token(live_tenant)}",
        "--checks", "all", "--max-examples", str(MAX_EXAMPLES), "--workers", "1", "--seed", seed,
        "--request-timeout", "30", "--no-color",
    ]
    env = {**os.environ, "SCHEMATHESIS_HOOKS": "tests.api.schemathesis_hooks",
           "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))}
    started = time.monotonic()
    run = subprocess.run(command, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=900)
    output = run.stdout + run.stderr
    print(f"schemathesis seed={seed} max_examples={MAX_EXAMPLES}: {time.monotonic() - started:.0f} s")
    print("\n".join(output.splitlines()[-12:]))
    assert run.returncode == 0, (f"schemathesis found problems (replay: ST_SEED={seed}):\n{output[-30000:]}\n"
                                 f"--- daphne log ---\n{api_server.log_tail(80)}")
