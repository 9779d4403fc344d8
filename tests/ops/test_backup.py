"""tenant_export / tenant_import: a round trip of leads, messages, media and configuration under a new slug (new
domain, new webhook tokens, media links moved) and under the same slug after a deletion (domain and tokens kept);
secrets stay encrypted in the file; broken or foreign dumps are refused and leave nothing behind."""

from __future__ import annotations

import gzip
import io
import json
import tarfile
from io import StringIO
from urllib.parse import urlsplit

import pytest
from django.core.management import CommandError, call_command
from django.test import Client
from django_tenants.utils import schema_exists, tenant_context

from conversations.models import Message
from leads.models import Lead
from tenants.models import Domain, Tenant, WebhookToken
from tenants.selectors import tenant_config_get
from tenants.services import tenant_config_import, tenant_delete_mark, tenants_purge_due
from tests.conftest import PASSWORD, TenantClient, host_of, webhook_path

SECRET = "cf-secret-token-0123456789"


def dialog(tenant) -> tuple[list, list]:
    with tenant_context(tenant):
        leads = list(Lead.objects.order_by("id").values_list("id", "name", "phone", "stage__name", "data"))
        messages = list(Message.objects.order_by("id").values_list("id", "lead_id", "direction", "text", "media_url"))
    return leads, messages


@pytest.fixture
def source(live_tenant, client_for):
    from conversations.services import media_save_bytes, tenant_base_url

    tenant_config_import(
        live_tenant,
        {
            "channels": {
                "chatflow": {"api_url": "https://chatflow.example/api/v1", "token": SECRET, "instance_id": "inst-1"}
            }
        },
    )
    live_tenant.refresh_from_db()
    api = client_for(live_tenant, "owner")
    for phone, text in (("77011110001", "Здравствуйте"), ("77011110002", "Сколько стоит?"), ("77011110001", "Ау")):
        response = api.post("/api/sandbox/messages/", {"phone": phone, "name": "Клиент", "text": text}, format="json")
        assert response.status_code == 201, response.content
    with tenant_context(live_tenant):
        url = media_save_bytes(data=b"GIF89a\x01\x00\x01\x00\x00\x00\x00;", extension="gif", base_url=tenant_base_url())
        Message.objects.filter(pk=Message.objects.order_by("id").first().pk).update(media_url=url)
    return live_tenant


def export(tenant, tmp_path) -> str:
    out = StringIO()
    path = tmp_path / "dump.tar.gz"
    call_command("tenant_export", tenant.slug, "--out", str(path), stdout=out)
    summary = json.loads(out.getvalue())
    assert summary["file"] == str(path) and summary["rows"] > 0
    return str(path)


def import_(path: str, slug: str) -> dict:
    out = StringIO()
    call_command("tenant_import", path, "--slug", slug, stdout=out)
    return json.loads(out.getvalue())


def test_round_trip_under_a_new_slug(source, tmp_path):
    path = export(source, tmp_path)
    # Secrets stay encrypted in the file; sessions and API tokens are not in it.
    with tarfile.open(path) as tar:
        names = tar.getnames()
        everything = b"".join(tar.extractfile(m).read() for m in tar.getmembers() if m.isfile())
    assert SECRET.encode() not in everything and SECRET.encode() not in gzip.open(path).read()
    assert "tables/authtoken_token.copy" not in names and "tables/leads_lead.copy" in names
    assert any(name.startswith("media/") for name in names)

    new_slug = source.slug + "-copy"
    printed = import_(path, new_slug)
    copy = Tenant.objects.get(slug=new_slug)
    assert printed["domain"] == host_of(copy) != host_of(source)
    (leads, messages), (leads2, messages2) = dialog(source), dialog(copy)
    assert leads2 == leads and len(leads) == 2
    assert [m[:4] for m in messages2] == [m[:4] for m in messages] and len(messages) >= 3
    # Media: the file came along and the link names the new host and folder.
    url = messages2[0][4]
    assert host_of(copy) in url and f"/media/{copy.schema_name}/" in url
    media = Client(HTTP_HOST=host_of(copy)).get(urlsplit(url).path)
    assert media.status_code == 200 and b"".join(media.streaming_content).startswith(b"GIF89a")
    # Configuration, secrets decrypted with the platform's key.
    assert tenant_config_get(copy)["channels"]["chatflow"]["token"] == SECRET
    # New webhook tokens, working; the source's keep working for the source only.
    old = dict(WebhookToken.objects.filter(tenant=source).values_list("provider", "token"))
    new = dict(WebhookToken.objects.filter(tenant=copy).values_list("provider", "token"))
    assert set(new) == set(old) and not set(new.values()) & set(old.values())
    body = json.dumps(
        {
            "messageType": "text",
            "message": "снова я",
            "metadata": {
                "remoteJid": "77011110002@s.whatsapp.net",
                "messageId": "after-import-1",
                "timestamp": 1735000000,
            },
        }
    )
    assert (
        Client(HTTP_HOST="localhost")
        .post(webhook_path(copy, "chatflow"), body, content_type="application/json")
        .status_code
        == 200
    )
    with tenant_context(copy):
        stored = Message.objects.get(provider_message_id="after-import-1")
        assert stored.pk > max(m[0] for m in messages)  # sequences continue after the restored rows
    # The team signs in with their passwords; the source is untouched.
    response = TenantClient(copy).post(
        "/api/auth/token/", {"email": f"owner@{source.slug}.test", "password": PASSWORD}, format="json"
    )
    assert response.status_code == 200
    assert dialog(source) == (leads, messages)


def test_restore_under_the_same_slug_after_deletion(source, tmp_path):
    path = export(source, tmp_path)
    slug, domain = source.slug, host_of(source)
    tokens = dict(WebhookToken.objects.filter(tenant=source).values_list("provider", "token"))
    before = dialog(source)
    tenant_delete_mark(tenant=source, grace_days=0)
    assert slug in tenants_purge_due()
    assert not schema_exists(source.schema_name)
    import_(path, slug)
    restored = Tenant.objects.get(slug=slug)
    assert restored.status == "active" and Domain.objects.get(tenant=restored).domain == domain
    assert dict(WebhookToken.objects.filter(tenant=restored).values_list("provider", "token")) == tokens
    assert dialog(restored) == before


def test_refusals_leave_nothing_behind(source, tmp_path, tenant_b):
    path = export(source, tmp_path)
    count = Tenant.objects.count()
    with pytest.raises(CommandError, match="taken"):
        import_(path, source.slug)
    with pytest.raises(CommandError, match="taken"):
        import_(path, "beta")
    (tmp_path / "junk.tar.gz").write_bytes(b"not a tar at all")
    with pytest.raises(CommandError, match="not a tenant dump"):
        import_(str(tmp_path / "junk.tar.gz"), "fresh-one")
    # A dump made at other migrations.
    with tarfile.open(path) as tar:
        members = [(m, tar.extractfile(m).read()) for m in tar.getmembers()]
    forged = tmp_path / "forged.tar.gz"
    with tarfile.open(forged, "w:gz") as tar:
        for member, data in members:
            if member.name == "manifest.json":
                manifest = json.loads(data)
                manifest["migrations"].append(["leads", "9999_from_the_future"])
                data = json.dumps(manifest).encode()
                member.size = len(data)
            tar.addfile(member, io.BytesIO(data))
    with pytest.raises(CommandError, match="other migrations"):
        import_(str(forged), "fresh-two")
    with pytest.raises(CommandError, match="no tenant"):
        call_command("tenant_export", "public")
    assert Tenant.objects.count() == count
    assert not schema_exists("fresh_one") and not schema_exists("fresh_two")


def test_a_corrupt_table_is_refused_cleanly(source, tmp_path):
    path = export(source, tmp_path)
    with tarfile.open(path) as tar:
        members = [(m, tar.extractfile(m).read()) for m in tar.getmembers()]
    forged = tmp_path / "corrupt.tar.gz"
    with tarfile.open(forged, "w:gz") as tar:
        for member, data in members:
            if member.name == "tables/leads_lead.copy":
                data = b"not\ta\trow\n" * 3
                member.size = len(data)
            if member.name == "tables/leads_stage.copy":
                continue  # missing
            tar.addfile(member, io.BytesIO(data))
    count = Tenant.objects.count()
    with pytest.raises(CommandError, match="could not be restored|missing"):
        import_(str(forged), "fresh-three")
    assert Tenant.objects.count() == count and not schema_exists("fresh_three")
