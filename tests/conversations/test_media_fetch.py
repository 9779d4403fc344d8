"""Clients' media from Cloud API and Telegram: fetched by a worker with the tenant's own credentials (against a
local stand-in that records the bearer header and the bot-token path) into the tenant's media folder, verified
(images decode; other types keep an allowed extension), served from the tenant's host only, the provider's
reference kept in meta; 5xx and timeouts retried, refusals and oversized files written on the message; the
inbound drain never waits for a download."""
from __future__ import annotations

import io
import json
import threading
from pathlib import Path

import httpx
import pytest
from django_tenants.utils import tenant_context
from PIL import Image

from conversations.models import Message
from integrations import telegram, whatsapp_cloud
from integrations.media import MediaFetchError
from tests.conftest import TenantClient
from tests.leads.conftest import make_lead

WA_TOKEN = {"alpha": "EAAG-alpha-token", "beta": "EAAG-beta-token"}
TG_TOKEN = "123456:ABC-bot-token"
LIMIT = 1024 * 1024


def png(size: tuple[int, int] = (3, 2)) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", size, (200, 30, 30)).save(buffer, "PNG")
    return buffer.getvalue()


def media_info(standin, media_id: str = "1234567890", mime: str = "image/jpeg", size=None, path="/lookaside/f"):
    """Cloud API's answer to GET /{media_id} (as documented: url, mime_type, sha256, file_size as a string)."""
    return {"messaging_product": "whatsapp", "url": f"{standin.url}{path}?mid={media_id}&ext=1735000000&hash=x",
            "mime_type": mime, "sha256": "81d3bd8a8db4868c9520ed47186e8b7c5789e61ff79f7f834be6950b808a90d3",
            "file_size": str(size if size is not None else 303833), "id": media_id}


# --- the adapters -----------------------------------------------------------------------------------------------


def test_cloud_api_media_is_looked_up_then_downloaded_with_the_bearer_token(standin):
    image = png()
    standin.reply(json=media_info(standin, size=len(image))).reply(body=image)
    config = {"api_url": f"{standin.url}/v21.0", "access_token": WA_TOKEN["alpha"]}
    fetched = whatsapp_cloud.fetch_media(config, "1234567890", max_bytes=LIMIT)
    assert fetched.content == image and fetched.mimetype == "image/jpeg" and fetched.provider_size == len(image)
    lookup, download = standin.requests
    assert (lookup.method, lookup.path) == ("GET", "/v21.0/1234567890")
    assert (download.path, download.query["mid"]) == ("/lookaside/f", "1234567890")
    assert lookup.headers["authorization"] == download.headers["authorization"] == f"Bearer {WA_TOKEN['alpha']}"


def test_cloud_api_media_over_the_limit_is_not_downloaded(standin):
    standin.reply(json=media_info(standin, size=LIMIT + 1))
    with pytest.raises(MediaFetchError) as refused:
        whatsapp_cloud.fetch_media({"api_url": standin.url, "access_token": "t"}, "1", max_bytes=LIMIT)
    assert refused.value.too_large and not refused.value.retryable
    assert len(standin.requests) == 1


@pytest.mark.parametrize("status,retryable", [(503, True), (500, True), (429, True), (404, False), (401, False)])
def test_cloud_api_errors_say_whether_a_retry_can_help(standin, status, retryable):
    standin.reply(status, json={"error": {"message": "x", "code": 100}})
    with pytest.raises(MediaFetchError) as failed:
        whatsapp_cloud.fetch_media({"api_url": standin.url, "access_token": "t"}, "1", max_bytes=LIMIT)
    assert failed.value.retryable is retryable and str(status) in failed.value.detail


def test_a_download_that_times_out_can_be_retried(standin):
    standin.reply(json=media_info(standin)).reply(body=b"late", delay=1.0)
    with httpx.Client(timeout=0.2) as client, pytest.raises(MediaFetchError) as failed:
        whatsapp_cloud.fetch_media({"api_url": standin.url, "access_token": "t"}, "1", max_bytes=LIMIT,
                                   client=client)
    assert failed.value.retryable


def test_a_body_longer_than_announced_is_cut_off_while_it_streams():
    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/v21.0/77":
            return httpx.Response(200, json={"url": "https://cdn.example/f", "mime_type": "video/mp4"})
        return httpx.Response(200, content=iter([b"x" * 4096] * 64))  # no Content-Length, 256 KiB

    with httpx.Client(transport=httpx.MockTransport(handler)) as client, pytest.raises(MediaFetchError) as cut:
        whatsapp_cloud.fetch_media({"api_url": "https://graph.example/v21.0", "access_token": "t"}, "77",
                                   max_bytes=100_000, client=client)
    assert cut.value.too_large


def test_telegram_file_is_resolved_with_getfile_then_read_from_its_path(standin):
    voice = b"OggS" + b"\x00" * 60
    standin.reply(json={"ok": True, "result": {"file_id": "AwACAgIAAxkBAAIB", "file_unique_id": "AgADxx",
                                               "file_size": len(voice), "file_path": "voice/file_7.oga"}})
    standin.reply(body=voice)
    fetched = telegram.fetch_media({"api_url": standin.url, "bot_token": TG_TOKEN}, "AwACAgIAAxkBAAIB",
                                   max_bytes=LIMIT)
    assert fetched.content == voice and fetched.mimetype is None
    get_file, download = standin.requests
    assert get_file.path == f"/bot{TG_TOKEN}/getFile" and get_file.query == {"file_id": "AwACAgIAAxkBAAIB"}
    assert download.path == f"/file/bot{TG_TOKEN}/voice/file_7.oga"


@pytest.mark.parametrize("reply,retryable,too_large", [
    ((400, {"ok": False, "error_code": 400, "description": "Bad Request: file is too big"}), False, False),
    ((401, {"ok": False, "error_code": 401, "description": "Unauthorized"}), False, False),
    ((502, {"ok": False}), True, False),
    ((200, {"ok": True, "result": {"file_id": "F", "file_size": LIMIT + 1, "file_path": "documents/a.pdf"}}),
     False, True),
    ((200, {"ok": True, "result": {"file_id": "F"}}), False, False),
])
def test_telegram_failures_are_classified_and_never_show_the_token(standin, reply, retryable, too_large):
    standin.reply(reply[0], json=reply[1])
    with pytest.raises(MediaFetchError) as failed:
        telegram.fetch_media({"api_url": standin.url, "bot_token": TG_TOKEN}, "F", max_bytes=LIMIT)
    assert (failed.value.retryable, failed.value.too_large) == (retryable, too_large)
    assert TG_TOKEN not in failed.value.detail and "ABC-bot" not in str(failed.value)
    assert len(standin.requests) == 1


# --- the service: storing, verifying, recording -----------------------------------------------------------------


@pytest.fixture
def media_root(settings, tmp_path) -> Path:
    settings.MEDIA_ROOT = str(tmp_path / "media")
    settings.PUBLIC_URL_SCHEME, settings.PUBLIC_URL_PORT = "http", 8000
    return tmp_path / "media"


def channels(tenant, standin, access_token: str | None = None) -> None:
    from tenants.services import tenant_config_import

    tenant_config_import(tenant, {"channels": {
        "whatsapp_cloud": {"api_url": f"{standin.url}/v21.0", "phone_number_id": "1099",
                           "access_token": access_token or WA_TOKEN[tenant.slug], "app_secret": "s",
                           "verify_token": "v"},
        "telegram": {"api_url": standin.url, "bot_token": f"{tenant.pk}:{TG_TOKEN}", "secret_token": "s"}}})


def client_media(tenant, standin, *, provider: str = "whatsapp", kind: str = "image", mimetype: str = "image/jpeg",
                 ref: str = "1234567890") -> Message:
    """A client's message as the inbound drain leaves it: the provider's reference as media_url."""
    lead = make_lead(tenant, name="Асель", phone="77011112233", channel=provider, provider=provider)
    media_url = f"{standin.url}/v21.0/{ref}" if provider == "whatsapp" else f"tg-file:{ref}"
    with tenant_context(tenant):
        return Message.objects.create(lead=lead, direction="in", kind=kind, text="", media_url=media_url,
                                      mimetype=mimetype, status="received", provider=provider,
                                      provider_message_id=f"wamid.{tenant.slug}.{ref}", author_kind="client",
                                      meta={"identity": "77011112233"})


def fetch(tenant, message: Message, attempt: int = 1) -> str:
    from conversations.services import message_media_fetch

    with tenant_context(tenant):
        return message_media_fetch(message_id=message.pk, attempt=attempt)


def reloaded(tenant, message: Message) -> Message:
    with tenant_context(tenant):
        return Message.objects.get(pk=message.pk)


def stored_file(media_root: Path, url: str) -> Path:
    return media_root / url.split("/media/", 1)[1]


@pytest.mark.django_db
def test_a_fetched_image_replaces_the_reference_with_our_url(tenant_a, standin, media_root):
    channels(tenant_a, standin)
    image = png()
    message = client_media(tenant_a, standin)
    reference = message.media_url
    standin.reply(json=media_info(standin, size=len(image))).reply(body=image)
    assert fetch(tenant_a, message) == "fetched"
    message = reloaded(tenant_a, message)
    assert message.media_url.startswith("http://alpha.localhost:8000/media/alpha/")
    assert message.media_url.endswith(".png") and message.mimetype == "image/png"  # what the bytes are
    assert stored_file(media_root, message.media_url).read_bytes() == image
    assert message.meta["media"] == {"ref": reference, "size": len(image), "mimetype": "image/png"}
    assert message.meta["identity"] == "77011112233" and message.error == ""
    assert fetch(tenant_a, message) == "skipped" and len(standin.requests) == 2  # done once
    assert len(list((media_root / "alpha").iterdir())) == 1


@pytest.mark.django_db
def test_each_tenant_fetches_with_its_own_credentials_into_its_own_folder(tenant_a, tenant_b, standin, media_root):
    for tenant in (tenant_a, tenant_b):
        channels(tenant, standin)
    mine, theirs = client_media(tenant_a, standin, ref="111"), client_media(tenant_b, standin, ref="222")
    for ref in ("111", "222"):
        standin.reply(json=media_info(standin, media_id=ref)).reply(body=png())
    assert fetch(tenant_a, mine) == "fetched" and fetch(tenant_b, theirs) == "fetched"
    auth = [(r.path, r.headers["authorization"]) for r in standin.requests]
    assert auth[:2] == [("/v21.0/111", f"Bearer {WA_TOKEN['alpha']}"), ("/lookaside/f", f"Bearer {WA_TOKEN['alpha']}")]
    assert auth[2:] == [("/v21.0/222", f"Bearer {WA_TOKEN['beta']}"), ("/lookaside/f", f"Bearer {WA_TOKEN['beta']}")]
    mine, theirs = reloaded(tenant_a, mine), reloaded(tenant_b, theirs)
    assert "//alpha.localhost:8000/media/alpha/" in mine.media_url
    assert "//beta.localhost:8000/media/beta/" in theirs.media_url
    assert stored_file(media_root, mine.media_url).parent == media_root / "alpha"
    assert stored_file(media_root, theirs.media_url).parent == media_root / "beta"


@pytest.mark.django_db
def test_telegram_photo_is_fetched_with_the_tenants_bot(tenant_a, standin, media_root):
    channels(tenant_a, standin)
    image = png((5, 5))
    message = client_media(tenant_a, standin, provider="telegram", ref="AgACAgIAAxkBAAIC")
    standin.reply(json={"ok": True, "result": {"file_id": "AgACAgIAAxkBAAIC", "file_size": len(image),
                                               "file_path": "photos/file_1.jpg"}}).reply(body=image)
    assert fetch(tenant_a, message) == "fetched"
    bot = f"bot{tenant_a.pk}:{TG_TOKEN}"
    assert [r.path for r in standin.requests] == [f"/{bot}/getFile", f"/file/{bot}/photos/file_1.jpg"]
    message = reloaded(tenant_a, message)
    assert message.meta["media"]["ref"] == "tg-file:AgACAgIAAxkBAAIC"
    assert stored_file(media_root, message.media_url).read_bytes() == image


@pytest.mark.django_db
def test_server_errors_are_retried_with_backoff_then_written_on_the_message(tenant_a, standin, media_root, settings):
    from conversations.services import RetryLater

    settings.MEDIA_FETCH_MAX_ATTEMPTS, settings.SEND_RETRY_BASE_SECONDS = 3, 2.0
    channels(tenant_a, standin)
    message = client_media(tenant_a, standin)
    standin.default.status = 503
    delays = []
    for attempt in (1, 2):
        with pytest.raises(RetryLater) as later:
            fetch(tenant_a, message, attempt=attempt)
        delays.append(later.value.delay)
        assert reloaded(tenant_a, message).media_url == message.media_url  # still waiting, nothing written
    assert 1.0 <= delays[0] <= 3.0 and 2.0 <= delays[1] <= 6.0  # jittered, doubling
    assert fetch(tenant_a, message, attempt=3) == "failed"
    failed = reloaded(tenant_a, message)
    assert failed.media_url == "" and "503" in failed.error and failed.meta["media"]["ref"] == message.media_url
    assert "503" in failed.meta["media"]["error"] and not (media_root / "alpha").exists()


@pytest.mark.django_db
def test_a_file_over_the_limit_is_recorded_not_fetched(tenant_a, standin, media_root, settings):
    settings.MEDIA_FETCH_MAX_BYTES = 1000
    channels(tenant_a, standin)
    message = client_media(tenant_a, standin, kind="video", mimetype="video/mp4")
    standin.reply(json=media_info(standin, mime="video/mp4", size=5_000_000))
    assert fetch(tenant_a, message) == "failed"
    failed = reloaded(tenant_a, message)
    assert failed.meta["media"]["too_large"] is True and "5000000" in failed.error
    assert len(standin.requests) == 1  # the file itself was never requested


@pytest.mark.django_db
@pytest.mark.parametrize("body", [b"<html><script>alert(1)</script></html>", b"\x89PNG\r\n\x1a\n broken",
                                  b'<svg xmlns="http://www.w3.org/2000/svg"/>'])
def test_an_image_that_is_not_one_is_refused_and_not_stored(tenant_a, standin, media_root, body):
    channels(tenant_a, standin)
    message = client_media(tenant_a, standin)
    standin.reply(json=media_info(standin, mime="image/svg+xml" if b"svg" in body else "image/jpeg")).reply(body=body)
    assert fetch(tenant_a, message) == "failed"
    failed = reloaded(tenant_a, message)
    assert "image" in failed.error and failed.media_url == "" and not (media_root / "alpha").exists()


@pytest.mark.django_db
@pytest.mark.parametrize("kind,declared,extension,stored_type", [
    ("voice", "audio/ogg; codecs=opus", "ogg", "audio/ogg"),
    ("document", "application/pdf", "pdf", "application/pdf"),
    ("document", "text/html", "bin", "application/octet-stream"),
    ("document", "image/png", "png", "image/png"),  # a photo sent as a document is still checked as an image
])
def test_other_media_keep_an_allowed_extension_and_download_as_attachments(tenant_a, standin, media_root, kind,
                                                                           declared, extension, stored_type):
    channels(tenant_a, standin)
    content = png() if declared == "image/png" else b"%PDF-1.4 or OggS or <html> bytes"
    message = client_media(tenant_a, standin, kind=kind, mimetype=declared)
    standin.reply(json=media_info(standin, mime=declared)).reply(body=content)
    assert fetch(tenant_a, message) == "fetched"
    message = reloaded(tenant_a, message)
    assert message.media_url.endswith(f".{extension}") and message.mimetype == stored_type
    response = TenantClient(tenant_a).get(message.media_url.split("8000", 1)[1])
    assert response.status_code == 200 and b"".join(response.streaming_content) == content
    assert response["X-Content-Type-Options"] == "nosniff"
    assert (response.get("Content-Disposition") == "attachment") is (extension != "png")


@pytest.mark.django_db
def test_a_tenants_media_is_served_on_its_own_host_only(tenant_a, tenant_b, standin, media_root):
    channels(tenant_a, standin)
    message = client_media(tenant_a, standin)
    standin.reply(json=media_info(standin)).reply(body=png())
    fetch(tenant_a, message)
    path = reloaded(tenant_a, message).media_url.split("8000", 1)[1]
    assert TenantClient(tenant_a).get(path).status_code == 200
    assert TenantClient(tenant_b).get(path).status_code == 404
    assert TenantClient(tenant_b).get(path.replace("/alpha/", "/beta/../alpha/")).status_code == 404


@pytest.mark.django_db
def test_messages_without_a_provider_reference_are_left_alone(tenant_a, standin, media_root):
    channels(tenant_a, standin)
    for provider, url in (("chatflow", "https://cdn.chatflow.kz/a.jpg"), ("sandbox", ""),
                          ("whatsapp", "http://alpha.localhost:8000/media/alpha/ab.png")):
        lead = make_lead(tenant_a, phone="77019998877", provider=provider)
        with tenant_context(tenant_a):
            message = Message.objects.create(lead=lead, direction="in", kind="image", media_url=url,
                                             status="received", provider=provider, author_kind="client")
        assert fetch(tenant_a, message) == "skipped"
    assert standin.requests == []


# --- end to end: webhook, drain, worker, websocket --------------------------------------------------------------


@pytest.mark.live
@pytest.mark.asyncio
async def test_a_webhook_image_is_fetched_after_the_drain_and_published(live_tenant, worker, standin, settings,
                                                                         tmp_path):
    from asgiref.sync import sync_to_async
    from channels.layers import channel_layers

    from conversations.services import inbound_receive
    from tenants.services import tenant_config_import
    from tests.conversations.test_realtime import events_until, socket

    settings.MEDIA_ROOT = str(tmp_path)
    channel_layers.backends.pop("default", None)
    await sync_to_async(channels)(live_tenant, standin, "EAAG-live-token")
    await sync_to_async(tenant_config_import)(live_tenant, {"ai": {"enabled": False}})  # no replies to the stand-in
    image, gate = png((4, 4)), threading.Event()
    standin.reply(json=media_info(standin, media_id="998877", size=len(image)))
    standin.reply(body=image, gate=gate)  # the download waits until the test has seen the drain finish
    payload = {"object": "whatsapp_business_account", "entry": [{"id": "WABA", "changes": [{"field": "messages",
               "value": {"messaging_product": "whatsapp", "metadata": {"phone_number_id": "1099"},
                         "contacts": [{"profile": {"name": "Ерлан"}, "wa_id": "77015550011"}],
                         "messages": [{"from": "77015550011", "id": "wamid.HBgLNzcwMTU1NTAwMTE", "timestamp":
                                       "1735000000", "type": "image",
                                       "image": {"caption": "Фасад", "mime_type": "image/jpeg",
                                                 "sha256": "m1u2v3", "id": "998877"}}]}}]}]}

    def webhook() -> None:  # what the webhook view does with a verified body: parse, store, kick the drain
        import hashlib
        import hmac

        from tenants.models import Tenant

        body = json.dumps(payload).encode()
        config = {"api_url": f"{standin.url}/v21.0", "app_secret": "s"}
        signature = "sha256=" + hmac.new(b"s", body, hashlib.sha256).hexdigest()
        items = whatsapp_cloud.parse_webhook(body, {"X-Hub-Signature-256": signature}, config)
        with tenant_context(Tenant.objects.get(pk=live_tenant.pk)):
            inbound_receive(provider="whatsapp", items=items, raw=body, event_id="wamid.HBgLNzcwMTU1NTAwMTE")

    owner = await socket(live_tenant, "owner")
    try:
        await sync_to_async(webhook)()
        created = (await events_until(owner, lambda e: e["type"] == "message.created"))[-1]
        assert created["message"]["media_url"].endswith("/v21.0/998877")  # the drain is done, the download is not
        gate.set()
        updated = (await events_until(owner, lambda e: e["type"] == "message.updated"))[-1]
    finally:
        gate.set()
        await owner.disconnect()
    message = updated["message"]
    assert updated["lead_id"] == created["lead_id"] and message["id"] == created["message"]["id"]
    assert message["media_url"].startswith(f"http://{live_tenant.slug}.localhost:8000/media/{live_tenant.slug}/")
    assert message["caption"] == "Фасад" and message["error"] == ""
    assert [r.headers["authorization"] for r in standin.requests] == ["Bearer EAAG-live-token"] * 2
    served = await sync_to_async(lambda: TenantClient(live_tenant).get(message["media_url"].split("8000", 1)[1]))()
    assert served.status_code == 200 and b"".join(served.streaming_content) == image
    channel_layers.backends.pop("default", None)
