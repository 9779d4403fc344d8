"""Voice notes in and out, through the real pipeline: a client's note (ChatFlow's documented payload, a real OGG/Opus
file served by a stand-in) is stored, transcribed by a Celery task against a stand-in speech-to-text server, the AI's
turn waits for the transcript and reads it, and — with `ai.voice_replies` — answers with a voice note spoken by
espeak-ng or a stand-in text-to-speech server, encoded to OGG/Opus and sent by each channel as a voice note. No
transcription, or a failing one: the AI asks for text once, the lead is flagged for a person, nothing is dropped.
Tasks run eagerly in this process (the same code a worker runs)."""

from __future__ import annotations

import io
import json
from pathlib import Path

import av
import pytest
from django_tenants.utils import tenant_context

from aiagent.models import AiTurn
from conversations.models import Message
from integrations import audio, chatflow, speech
from leads.models import Lead
from tests.integrations.standin import StandIn
from tests.integrations.test_speech import multipart_fields, voice_note
from tests.leads.conftest import make_lead

TRANSCRIPT = "Здравствуйте, меня зовут Асель, нужен дом в Алматы"
STT_KEY = {"alpha": "sk-alpha-stt", "beta": "sk-beta-stt"}


@pytest.fixture
def eager():
    """Tasks named through core.tasks.enqueue run in this process."""
    from buildcrm.celery import app

    old = app.conf.task_always_eager
    app.conf.task_always_eager = True
    yield app
    app.conf.task_always_eager = old


@pytest.fixture
def media_root(settings, tmp_path) -> Path:
    settings.MEDIA_ROOT = str(tmp_path / "media")
    settings.PUBLIC_URL_SCHEME, settings.PUBLIC_URL_PORT = "http", 8000
    settings.SPEECH_TO_TEXT_URL = ""  # only what each test configures
    settings.SEND_RETRY_BASE_SECONDS = 0.01
    return tmp_path / "media"


@pytest.fixture
def servers():
    """Stand-ins: the client's media host (ChatFlow links), speech-to-text, text-to-speech, the ChatFlow API."""
    made = {name: StandIn() for name in ("media", "stt", "tts", "chatflow")}
    made["chatflow"].default.json = {"success": True, "data": {"messageId": "3EB0OUT"}}
    yield made
    for server in made.values():
        server.close()


def configure(tenant, servers, *, stt: bool = True, voice_replies: bool = True, tts: bool = False) -> None:
    from tenants.services import tenant_config_import

    ai: dict = {"debounce_seconds": 0, "voice_replies": voice_replies}
    if stt:
        ai["speech_to_text"] = {
            "base_url": f"{servers['stt'].url}/v1",
            "api_key": STT_KEY[tenant.slug],
            "model": "whisper-large-v3",
        }
    if tts:
        ai["text_to_speech"] = {
            "base_url": f"{servers['tts'].url}/v1",
            "api_key": "sk-tts",
            "model": "tts-1",
            "voice": "nova",
        }
    tenant_config_import(
        tenant,
        {
            "company": "ПанельСтрой",
            "ai": ai,
            "followups": {"enabled": False},
            "channels": {
                "chatflow": {"api_url": servers["chatflow"].url, "token": "cf-token", "instance_id": "inst-1"}
            },
        },
    )
    tenant.refresh_from_db()


def chatflow_voice(servers, *, message_id: str = "3EB0VOICE1", path: str = "/m/voice.ogg", caption: str = ""):
    """ChatFlow's documented inbound payload for a push-to-talk note."""
    payload = {
        "messageType": "audio",
        "message": "",
        "metadata": {
            "remoteJid": "77011112233@s.whatsapp.net",
            "messageId": message_id,
            "timestamp": 1735000000,
            "instanceId": "inst-1",
            "sender": "Асель",
        },
        "mediaData": {
            "url": f"{servers['media'].url}{path}",
            "mimetype": "audio/ogg; codecs=opus",
            "caption": caption,
            "ptt": True,
        },
    }
    return json.dumps(payload).encode()


def receive(tenant, body: bytes, capture) -> Message:
    """The webhook's storage, then the worker's drain with everything it queues on commit (transcription, turn,
    delivery) run here."""
    from conversations.services import inbound_process_pending, inbound_receive

    with tenant_context(tenant):
        (item,) = chatflow.parse_webhook(body, {}, {})
        (stored,) = inbound_receive(provider="chatflow", items=[item], raw=body, event_id=item.provider_message_id)
        with capture(execute=True):
            inbound_process_pending()
        return Message.objects.get(pk=stored.pk)


def ogg_facts(data: bytes) -> tuple[str, str, int]:
    with av.open(io.BytesIO(data)) as container:
        stream = container.streams.audio[0]
        assert sum(frame.samples for frame in container.decode(stream)) > 0
        return container.format.name, stream.codec_context.name, stream.rate


def stored(media_root: Path, url: str) -> bytes:
    return (media_root / url.split("/media/", 1)[1]).read_bytes()


@pytest.mark.django_db
def test_a_voice_note_is_transcribed_the_turn_reads_it_and_answers_by_voice(
    tenant_a, servers, media_root, eager, django_capture_on_commit_callbacks
):
    configure(tenant_a, servers)
    note = voice_note()
    servers["media"].reply(body=note)
    servers["stt"].reply(json={"text": TRANSCRIPT})
    message = receive(tenant_a, chatflow_voice(servers), django_capture_on_commit_callbacks)

    assert (message.kind, message.transcript_status, message.transcript) == ("voice", "done", TRANSCRIPT)
    assert [r.path for r in servers["media"].requests] == ["/m/voice.ogg"]
    (stt,) = servers["stt"].requests
    assert stt.path == "/v1/audio/transcriptions" and stt.headers["authorization"] == "Bearer sk-alpha-stt"
    fields = multipart_fields(stt)
    assert fields["model"][2] == b"whisper-large-v3" and fields["file"][1] == "audio/wav"
    assert ogg_facts(fields["file"][2])[:2] == ("wav", "pcm_s16le")  # OGG/Opus → 16 kHz mono WAV

    with tenant_context(tenant_a):
        lead = Lead.objects.get(pk=message.lead_id)
        turns = list(AiTurn.objects.filter(lead=lead, kind="reply"))
        replies = list(Message.objects.filter(lead=lead, direction="out"))
    # The turn ran once, after the transcript, and the brain read it.
    assert [t.status for t in turns] == ["ok"] and turns[0].message_id == message.pk
    assert lead.city == "Алматы" and lead.ai_state["answered_upto"] == message.pk
    assert replies and all(r.kind == "voice" and r.text and r.status == "sent" for r in replies)
    assert all(
        r.media_url.startswith("http://alpha.localhost:8000/media/alpha/") and r.media_url.endswith(".ogg")
        for r in replies
    )
    assert ogg_facts(stored(media_root, replies[0].media_url)) == ("ogg", "opus", 48000)
    assert replies[0].meta["tts"]["engine"] == "espeak-ng"
    sends = servers["chatflow"].requests
    assert [r.path for r in sends] == ["/send-audio"] * len(replies)
    assert [r.query["audiourl"] for r in sends] == [r.media_url for r in replies]
    assert sends[0].query["jid"] == "77011112233@s.whatsapp.net" and sends[0].query["token"] == "cf-token"


@pytest.mark.django_db
def test_without_voice_replies_the_transcribed_note_is_answered_in_text(
    tenant_a, servers, media_root, eager, django_capture_on_commit_callbacks
):
    configure(tenant_a, servers, voice_replies=False)
    servers["media"].reply(body=voice_note())
    servers["stt"].reply(json={"text": TRANSCRIPT})
    message = receive(tenant_a, chatflow_voice(servers), django_capture_on_commit_callbacks)
    with tenant_context(tenant_a):
        replies = list(Message.objects.filter(lead_id=message.lead_id, direction="out"))
    assert replies and {r.kind for r in replies} == {"text"}
    assert {r.path for r in servers["chatflow"].requests} == {"/send-text"}


@pytest.mark.django_db
def test_without_speech_to_text_the_ai_asks_for_text_once_and_flags_the_lead(
    tenant_a, servers, media_root, eager, django_capture_on_commit_callbacks
):
    configure(tenant_a, servers, stt=False)
    servers["media"].default.body = voice_note()
    first = receive(tenant_a, chatflow_voice(servers), django_capture_on_commit_callbacks)
    second = receive(tenant_a, chatflow_voice(servers, message_id="3EB0VOICE2"), django_capture_on_commit_callbacks)
    assert first.transcript_status == second.transcript_status == "failed"
    assert "not configured" in first.meta["transcript_error"]
    with tenant_context(tenant_a):
        lead = Lead.objects.get(pk=first.lead_id)
        out = list(Message.objects.filter(lead=lead, direction="out"))
        kept = list(Message.objects.filter(lead=lead, direction="in").values_list("pk", flat=True))
    assert kept == [first.pk, second.pk]  # nothing dropped
    (ask,) = out  # asked once, not for every note
    assert ask.kind == "text" and "текстом" in ask.text
    assert lead.needs_human and "Голосовое" in lead.needs_human_reason
    assert lead.ai_state["answered_upto"] == second.pk
    assert servers["stt"].requests == []


@pytest.mark.django_db
def test_a_failing_server_is_retried_with_backoff_then_given_up(tenant_a, servers, media_root, settings):
    from conversations.services import RetryLater, message_transcribe

    settings.TRANSCRIBE_MAX_ATTEMPTS = 3
    configure(tenant_a, servers)
    servers["media"].default.body = voice_note()
    servers["stt"].default.status = 503
    lead = make_lead(tenant_a, name="Асель", phone="77011112233", channel="whatsapp", provider="chatflow")
    with tenant_context(tenant_a):
        message = Message.objects.create(
            lead=lead,
            direction="in",
            kind="voice",
            media_url=f"{servers['media'].url}/m/v.ogg",
            status="received",
            provider="chatflow",
            provider_message_id="3EB0RETRY",
            author_kind="client",
            transcript_status="pending",
        )
        for attempt in (1, 2):
            with pytest.raises(RetryLater):
                message_transcribe(message_id=message.pk, attempt=attempt)
            message.refresh_from_db()
            assert message.transcript_status == "pending"
        assert message_transcribe(message_id=message.pk, attempt=3) == "failed"
        message.refresh_from_db()
        assert message.transcript_status == "failed" and "503" in message.meta["transcript_error"]
        assert message_transcribe(message_id=message.pk, attempt=4) == "skipped"  # once
    assert len(servers["stt"].requests) == 3


@pytest.mark.django_db
@pytest.mark.parametrize(
    "body,reason",
    [
        (b"<html><script>alert(1)</script></html>", "not a usable voice note"),
        (b"", "not a usable voice note"),
        (b"x" * 3000, "over the 2000-byte limit"),
    ],
)
def test_hostile_audio_is_refused_without_asking_the_server(
    tenant_a, servers, media_root, settings, body, reason, eager, django_capture_on_commit_callbacks
):
    settings.MEDIA_FETCH_MAX_BYTES = 2000
    configure(tenant_a, servers)
    servers["media"].default.body = body
    message = receive(tenant_a, chatflow_voice(servers), django_capture_on_commit_callbacks)
    assert message.transcript_status == "failed" and reason in message.meta["transcript_error"]
    assert servers["stt"].requests == []
    with tenant_context(tenant_a):
        assert Lead.objects.get(pk=message.lead_id).needs_human


@pytest.mark.django_db
def test_a_long_note_is_not_sent_to_the_server(
    tenant_a, servers, media_root, settings, eager, django_capture_on_commit_callbacks
):
    settings.VOICE_MAX_SECONDS = 1
    configure(tenant_a, servers)
    servers["media"].default.body = voice_note()
    message = receive(tenant_a, chatflow_voice(servers), django_capture_on_commit_callbacks)
    assert message.transcript_status == "failed" and "longer than 1 s" in message.meta["transcript_error"]
    assert servers["stt"].requests == []


@pytest.mark.django_db
def test_a_megabyte_transcript_is_stored_bounded(
    tenant_a, servers, media_root, settings, eager, django_capture_on_commit_callbacks
):
    settings.TRANSCRIPT_MAX_CHARS = 3000
    configure(tenant_a, servers, voice_replies=False)
    servers["media"].default.body = voice_note()
    servers["stt"].reply(body=json.dumps({"text": "дом " * 260_000}, ensure_ascii=False).encode())
    message = receive(tenant_a, chatflow_voice(servers), django_capture_on_commit_callbacks)
    assert message.transcript_status == "done" and len(message.transcript) == 3000


@pytest.mark.django_db
def test_a_text_to_speech_server_speaks_the_reply_and_its_failure_sends_the_text(
    tenant_a, servers, media_root, eager, django_capture_on_commit_callbacks
):
    configure(tenant_a, servers, tts=True)
    servers["tts"].default.body = speech.espeak("Добрый день", language="ru")
    servers["media"].default.body = voice_note()
    servers["stt"].default.json = {"text": TRANSCRIPT}
    first = receive(tenant_a, chatflow_voice(servers), django_capture_on_commit_callbacks)
    tts = servers["tts"].requests[0]
    assert tts.path == "/v1/audio/speech" and tts.headers["authorization"] == "Bearer sk-tts"
    assert tts.json["model"] == "tts-1" and tts.json["voice"] == "nova" and tts.json["input"]
    with tenant_context(tenant_a):
        spoken = list(Message.objects.filter(lead_id=first.lead_id, direction="out"))
    assert {m.kind for m in spoken} == {"voice"} and spoken[0].meta["tts"]["engine"] == "server"
    assert spoken[0].text == tts.json["input"]

    servers["tts"].default = type(servers["tts"].default)(status=400, json={"error": "bad voice"})
    receive(tenant_a, chatflow_voice(servers, message_id="3EB0VOICE2"), django_capture_on_commit_callbacks)
    with tenant_context(tenant_a):
        later = list(
            Message.objects.filter(lead_id=first.lead_id, direction="out").exclude(pk__in=[m.pk for m in spoken])
        )
    assert later and all(m.kind == "text" and m.status == "sent" and "400" in m.meta["tts_error"] for m in later)
    assert servers["chatflow"].requests[-1].path == "/send-text"


@pytest.mark.django_db
def test_each_tenant_transcribes_with_its_own_server_key(
    tenant_a, tenant_b, servers, media_root, eager, django_capture_on_commit_callbacks
):
    for tenant in (tenant_a, tenant_b):
        configure(tenant, servers, voice_replies=False)
    servers["media"].default.body = voice_note()
    servers["stt"].default.json = {"text": TRANSCRIPT}
    receive(tenant_a, chatflow_voice(servers), django_capture_on_commit_callbacks)
    receive(tenant_b, chatflow_voice(servers, message_id="3EB0OTHER"), django_capture_on_commit_callbacks)
    assert [r.headers["authorization"] for r in servers["stt"].requests] == [
        "Bearer sk-alpha-stt",
        "Bearer sk-beta-stt",
    ]


@pytest.mark.django_db
def test_the_platform_server_serves_tenants_without_their_own(
    tenant_a, servers, media_root, settings, eager, django_capture_on_commit_callbacks
):
    configure(tenant_a, servers, stt=False, voice_replies=False)
    settings.SPEECH_TO_TEXT_URL, settings.SPEECH_TO_TEXT_API_KEY = f"{servers['stt'].url}/platform", "sk-platform"
    servers["media"].default.body = voice_note()
    servers["stt"].default.json = {"text": TRANSCRIPT}
    message = receive(tenant_a, chatflow_voice(servers), django_capture_on_commit_callbacks)
    assert message.transcript == TRANSCRIPT
    assert servers["stt"].last.path == "/platform/audio/transcriptions"
    assert servers["stt"].last.headers["authorization"] == "Bearer sk-platform"


@pytest.mark.django_db
def test_the_lead_list_finds_a_lead_by_its_transcript_only_in_its_own_tenant(tenant_a, tenant_b, client_for):
    for tenant in (tenant_a, tenant_b):
        lead = make_lead(tenant, name="Голос", phone="77011119999", channel="whatsapp", provider="chatflow")
        with tenant_context(tenant):
            Message.objects.create(
                lead=lead,
                direction="in",
                kind="voice",
                provider="chatflow",
                status="received",
                author_kind="client",
                transcript_status="done",
                transcript=f"нужен ангар {tenant.slug}",
            )
    mine = client_for(tenant_a, "owner").get("/api/leads/?q=ангар alpha").json()
    assert [r["name"] for r in mine["results"]] == ["Голос"]
    assert client_for(tenant_a, "owner").get("/api/leads/?q=ангар beta").json()["count"] == 0
    history = client_for(tenant_a, "owner").get(f"/api/leads/{mine['results'][0]['id']}/messages/").json()
    rows = history["results"] if isinstance(history, dict) else history
    assert rows[-1]["transcript"] == "нужен ангар alpha" and rows[-1]["transcript_status"] == "done"


# --- the voice note on every channel ----------------------------------------------------------------------------


def voice_reply(tenant, *, provider: str, channel: str, identity: str) -> Message:
    from conversations.services import message_send
    from leads.models import LeadIdentity

    lead = make_lead(tenant, name="Асель", phone="77011112233", channel=channel, provider=provider)
    with tenant_context(tenant):
        LeadIdentity.objects.get_or_create(lead=lead, channel=channel, identity=identity)
        return message_send(
            lead=lead,
            author_kind="ai",
            kind="voice",
            text="Здравствуйте! Дом 10 на 12 — от 9 млн.",
            purpose="reply",
            meta={"voice_language": "ru"},
        )


def deliver(tenant, message: Message) -> Message:
    from conversations.services import message_deliver

    with tenant_context(tenant):
        assert message_deliver(message_id=message.pk) == "sent"
        return Message.objects.get(pk=message.pk)


@pytest.mark.django_db
def test_telegram_sends_the_voice_note_with_sendvoice(tenant_a, media_root, standin):
    from tenants.services import tenant_config_import

    tenant_config_import(
        tenant_a, {"channels": {"telegram": {"api_url": standin.url, "bot_token": "123:ABC", "secret_token": "s"}}}
    )
    standin.default.json = {"ok": True, "result": {"message_id": 77, "chat": {"id": 555}}}
    sent = deliver(tenant_a, voice_reply(tenant_a, provider="telegram", channel="telegram", identity="555"))
    request = standin.last
    assert request.path == "/bot123:ABC/sendVoice"
    body = request.json or dict(p.split("=", 1) for p in request.body.decode().split("&"))
    assert str(body["chat_id"]) == "555" and sent.media_url in json.dumps(body).replace("\\/", "/")
    assert sent.kind == "voice" and sent.text.startswith("Здравствуйте")
    assert ogg_facts(stored(media_root, sent.media_url))[:2] == ("ogg", "opus")


@pytest.mark.django_db
def test_the_cloud_api_sends_the_voice_note_as_an_audio_link(tenant_a, media_root, standin):
    from tenants.services import tenant_config_import

    tenant_config_import(
        tenant_a,
        {
            "channels": {
                "whatsapp_cloud": {
                    "api_url": f"{standin.url}/v21.0",
                    "phone_number_id": "1099",
                    "access_token": "EAAG",
                    "app_secret": "s",
                    "verify_token": "v",
                }
            }
        },
    )
    standin.default.json = {"messaging_product": "whatsapp", "messages": [{"id": "wamid.OUT1"}]}
    lead_message = voice_reply(tenant_a, provider="whatsapp", channel="whatsapp", identity="77011112233")
    with tenant_context(tenant_a):
        from django.utils import timezone

        Lead.objects.filter(pk=lead_message.lead_id).update(last_inbound_at=timezone.now())
    sent = deliver(tenant_a, lead_message)
    request = standin.last
    assert request.path == "/v21.0/1099/messages"
    assert request.json["type"] == "audio" and request.json["audio"] == {"link": sent.media_url}
    assert request.json["to"] == "77011112233"


@pytest.mark.django_db
def test_the_sandbox_records_the_voice_note_with_its_text(tenant_a, media_root, client_for):
    sent = deliver(tenant_a, voice_reply(tenant_a, provider="sandbox", channel="sandbox", identity="77011112233"))
    assert sent.kind == "voice" and sent.media_url.endswith(".ogg")
    dialog = client_for(tenant_a, "owner").get("/api/sandbox/messages/?phone=77011112233").json()
    assert dialog[-1]["kind"] == "voice" and dialog[-1]["media_url"] == sent.media_url
    assert dialog[-1]["text"] == sent.text


@pytest.mark.django_db
def test_a_voice_note_that_cannot_be_spoken_goes_as_text(tenant_a, media_root, settings):
    settings.ESPEAK_NG = "/nonexistent/espeak-ng"
    sent = deliver(tenant_a, voice_reply(tenant_a, provider="sandbox", channel="sandbox", identity="77011112233"))
    assert sent.kind == "text" and sent.media_url == "" and "espeak-ng" in sent.meta["tts_error"]


def test_audio_module_is_pure():
    assert not any(name.startswith(("django", "conversations")) for name in vars(audio))


@pytest.mark.django_db
def test_a_cloud_api_note_is_transcribed_once_its_file_is_fetched(
    tenant_a, servers, media_root, eager, django_capture_on_commit_callbacks
):
    from conversations.services import message_media_fetch
    from tenants.services import tenant_config_import

    configure(tenant_a, servers, voice_replies=False)
    wa = servers["media"]  # the Graph API stand-in: the media lookup, then the file
    tenant_config_import(
        tenant_a,
        {
            "channels": {
                "whatsapp_cloud": {
                    "api_url": f"{wa.url}/v21.0",
                    "phone_number_id": "1099",
                    "access_token": "EAAG-alpha",
                    "app_secret": "s",
                    "verify_token": "v",
                }
            }
        },
    )
    note = voice_note()
    wa.reply(
        json={
            "messaging_product": "whatsapp",
            "url": f"{wa.url}/lookaside/v?mid=555",
            "mime_type": "audio/ogg",
            "file_size": str(len(note)),
            "id": "555",
        }
    ).reply(body=note)
    servers["stt"].reply(json={"text": TRANSCRIPT})
    lead = make_lead(tenant_a, name="Асель", phone="77011112233", channel="whatsapp", provider="whatsapp")
    with tenant_context(tenant_a):
        message = Message.objects.create(
            lead=lead,
            direction="in",
            kind="voice",
            media_url=f"{wa.url}/v21.0/555",
            mimetype="audio/ogg",
            status="received",
            provider="whatsapp",
            provider_message_id="wamid.VOICE555",
            author_kind="client",
            meta={"identity": "77011112233"},
            transcript_status="pending",
        )
        with django_capture_on_commit_callbacks(execute=True):
            assert message_media_fetch(message_id=message.pk) == "fetched"
        message.refresh_from_db()
    assert [r.path for r in wa.requests] == ["/v21.0/555", "/lookaside/v"]  # fetched once, then read from our copy
    assert message.media_url.endswith(".ogg") and (message.transcript_status, message.transcript) == (
        "done",
        TRANSCRIPT,
    )
    assert multipart_fields(servers["stt"].last)["file"][1] == "audio/wav"
    with tenant_context(tenant_a):
        assert AiTurn.objects.filter(lead=lead, status="ok").count() == 1


@pytest.mark.django_db
@pytest.mark.parametrize("url", ["file:///etc/passwd", "gopher://127.0.0.1:6379/_FLUSHALL", "ftp://x/y.ogg"])
def test_a_note_link_that_is_not_http_is_never_fetched(
    tenant_a, servers, media_root, eager, django_capture_on_commit_callbacks, url
):
    configure(tenant_a, servers)
    body = json.loads(chatflow_voice(servers))
    body["mediaData"]["url"] = url
    message = receive(tenant_a, json.dumps(body).encode(), django_capture_on_commit_callbacks)
    assert message.transcript_status == "failed" and "not http(s)" in message.meta["transcript_error"]
    assert servers["stt"].requests == [] and servers["media"].requests == []
