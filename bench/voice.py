"""The voice path's own overhead per message, against a text message's path in the same run (issue 15).

    .venv/bin/python -m buildcrm.devstack --tmp -- .venv/bin/python bench/voice.py [--messages 40]

Both paths run the real services in this process against real PostgreSQL, one message after another:

- text: a client's text stored (ChatFlow's payload) and drained, then a reply queued and delivered to a local
  ChatFlow stand-in (send-text);
- voice: a client's voice note (a real 4-5 s OGG/Opus file on a local media stand-in) stored and drained, fetched,
  decoded and converted to 16 kHz WAV with PyAV and sent to a speech-to-text stand-in that answers at once, the
  transcript stored and published; then a voice reply queued and delivered: the text sent to a text-to-speech
  stand-in that answers at once (a prepared WAV), encoded to OGG/Opus with PyAV, stored as media and sent to the
  ChatFlow stand-in (send-audio).

The speech servers' own time is left out (the stand-ins answer instantly), so what is measured is ours: the
transfers, PyAV, storage, the extra statements. Prints p50/p95 of each path, the voice path's p95 overhead over
the text path and the ratio. Target: the voice path's overhead p95 < 300 ms. The built-in voice (espeak-ng, a
local process) is timed on its own line.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "buildcrm.settings")
os.environ.setdefault("LOG_LEVEL", "WARNING")

import django  # noqa: E402

django.setup()

from django.conf import settings  # noqa: E402
from django.db import connection  # noqa: E402
from django_tenants.utils import tenant_context  # noqa: E402

from bench.common import bench_tenant, percentile, setup_platform  # noqa: E402
from integrations import audio, chatflow, speech  # noqa: E402
from tests.integrations.standin import StandIn  # noqa: E402

SENTENCE = "Здравствуйте! Меня зовут Асель, нужен дом десять на двенадцать в Алматы, сколько это будет стоить?"
REPLY = "Здравствуйте, Асель! Дом 10 на 12 в Алматы — от девяти миллионов тенге. Когда удобно созвониться?"


def payload(kind: str, n: int, media_url: str) -> bytes:
    body = {
        "messageType": "audio" if kind == "voice" else "text",
        "message": "" if kind == "voice" else SENTENCE,
        "metadata": {
            "remoteJid": f"7701{n:07d}@s.whatsapp.net",
            "messageId": f"BENCH{kind}{n}{time.time_ns()}",
            "timestamp": 1735000000,
            "instanceId": "inst-1",
            "sender": "Асель",
        },
        "mediaData": {"url": media_url, "mimetype": "audio/ogg; codecs=opus", "ptt": True} if kind == "voice" else None,
    }
    return json.dumps(body).encode()


def one(kind: str, n: int, media_url: str) -> tuple[float, float]:
    """One message's path: wall-clock seconds, and this process's CPU seconds (PyAV, parsing, our code; not the
    database's or the stand-ins' — a figure a loaded machine disturbs far less than the wall clock)."""
    from conversations.models import Message
    from conversations.services import (
        inbound_process_pending,
        inbound_receive,
        message_deliver,
        message_send,
        message_transcribe,
    )

    started, cpu = time.perf_counter(), time.process_time()
    body = payload(kind, n, media_url)
    (item,) = chatflow.parse_webhook(body, {}, {})
    (stored,) = inbound_receive(provider="chatflow", items=[item], raw=body, event_id=item.provider_message_id)
    inbound_process_pending()
    stored = Message.objects.select_related("lead").get(pk=stored.pk)
    if kind == "voice":
        assert message_transcribe(message_id=stored.pk) == "done"
        reply = message_send(
            lead=stored.lead, author_kind="ai", kind="voice", text=REPLY, purpose="reply", meta={"voice_language": "ru"}
        )
    else:
        reply = message_send(lead=stored.lead, author_kind="ai", text=REPLY, purpose="reply")
    assert message_deliver(message_id=reply.pk) == "sent"
    return time.perf_counter() - started, time.process_time() - cpu


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--messages", type=int, default=40)
    args = parser.parse_args()
    setup_platform()
    media, stt, tts, gateway = StandIn(), StandIn(), StandIn(), StandIn()
    wav = speech.espeak(SENTENCE, language="ru")
    note = audio.to_voice_note(wav, max_seconds=60).content
    media.default.body = note
    stt.default.json = {"text": SENTENCE}
    tts.default.body = speech.espeak(REPLY, language="ru")
    gateway.default.json = {"success": True}
    settings.MEDIA_ROOT = str(Path(os.environ.get("TMPDIR", "/tmp")) / "bench-voice-media")
    tenant = bench_tenant(
        "benchvoice",
        {
            "ai": {
                "enabled": False,
                "voice_replies": True,
                "speech_to_text": {"base_url": f"{stt.url}/v1", "api_key": "k", "model": "whisper-1"},
                "text_to_speech": {"base_url": f"{tts.url}/v1", "api_key": "k", "model": "tts-1", "voice": "alloy"},
            },
            "channels": {"chatflow": {"api_url": gateway.url, "token": "t", "instance_id": "inst-1"}},
        },
    )
    try:
        with tenant_context(tenant):
            for kind in ("text", "voice"):  # warm-up: imports, connections, codecs
                one(kind, 0, f"{media.url}/note.ogg")
            times: dict[str, list[float]] = {"text": [], "voice": []}
            cpu: dict[str, list[float]] = {"text": [], "voice": []}
            for n in range(1, args.messages + 1):
                for kind in ("text", "voice"):  # interleaved: both see the same machine load
                    wall, used = one(kind, n, f"{media.url}/note.ogg")
                    times[kind].append(wall)
                    cpu[kind].append(used)
            espeak = []
            for _ in range(10):
                started = time.perf_counter()
                audio.to_voice_note(speech.espeak(REPLY, language="ru"), max_seconds=60)
                espeak.append(time.perf_counter() - started)
    finally:
        connection.set_schema_to_public()
        for server in (media, stt, tts, gateway):
            server.close()
    ms = {kind: sorted(v * 1000 for v in values) for kind, values in times.items()}
    p = {kind: (percentile(v, 50), percentile(v, 95)) for kind, v in ms.items()}
    overhead = p["voice"][1] - p["text"][1]
    print(
        f"machine load average (1, 5, 15 min): {', '.join(f'{x:.1f}' for x in os.getloadavg())} on "
        f"{os.cpu_count()} cores"
    )
    print(f"voice note: {len(note)} bytes OGG/Opus, {audio.for_transcription(note, max_seconds=60).seconds:.1f} s")
    print(
        f"text path   per message (in + reply): p50 {p['text'][0]:7.1f} ms  p95 {p['text'][1]:7.1f} ms  "
        f"(n={len(ms['text'])})"
    )
    print(
        f"voice path  per message (in + transcript + voice reply): p50 {p['voice'][0]:7.1f} ms  "
        f"p95 {p['voice'][1]:7.1f} ms  (n={len(ms['voice'])})"
    )
    print(
        f"voice overhead p95: {overhead:.1f} ms (target < 300 ms: {'OK' if overhead < 300 else 'OVER'}); "
        f"ratio voice/text p95: {p['voice'][1] / p['text'][1]:.2f}x"
    )
    c = {
        kind: (percentile([v * 1000 for v in values], 50), percentile([v * 1000 for v in values], 95))
        for kind, values in cpu.items()
    }
    cpu_overhead = c["voice"][1] - c["text"][1]
    print(
        f"CPU of this process per message: text p50 {c['text'][0]:.1f} ms p95 {c['text'][1]:.1f} ms; voice p50 "
        f"{c['voice'][0]:.1f} ms p95 {c['voice'][1]:.1f} ms; voice overhead p95 {cpu_overhead:.1f} ms "
        f"(target < 300 ms: {'OK' if cpu_overhead < 300 else 'OVER'})"
    )
    es = sorted(v * 1000 for v in espeak)
    print(
        f"built-in voice (espeak-ng + OGG/Opus) per reply: p50 {percentile(es, 50):.1f} ms  "
        f"p95 {percentile(es, 95):.1f} ms"
    )


if __name__ == "__main__":
    main()
