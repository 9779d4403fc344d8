"""Voice notes' outside parts: the OpenAI-compatible speech-to-text and text-to-speech client against a local stand-in
that checks the multipart / JSON we send, espeak-ng as the built-in voice, and PyAV's conversions of real audio
(an OGG/Opus note made here from espeak-ng's speech) — with hostile input: not audio, empty, too long, a megabyte of
"transcript"."""

from __future__ import annotations

import io
import json
from email.parser import BytesParser
from email.policy import HTTP

import av
import pytest
from PIL import Image

from integrations import audio, speech
from tests.integrations.standin import Recorded, standin  # noqa: F401  (fixture)

SERVER_KEY = "sk-test-speech-key"


def spoken_wav(text: str = "Здравствуйте, сколько стоит дом десять на двенадцать?", language: str = "ru") -> bytes:
    return speech.espeak(text, language=language)


def voice_note(text: str = "Здравствуйте, сколько стоит дом десять на двенадцать?") -> bytes:
    """A real OGG/Opus voice note, as WhatsApp and Telegram record them."""
    return audio.to_voice_note(spoken_wav(text), max_seconds=60).content


def multipart_fields(request: Recorded) -> dict[str, tuple[str | None, str | None, bytes]]:
    """The form's parts by name: (filename, content type, bytes)."""
    head = f"Content-Type: {request.headers['content-type']}\r\n\r\n".encode()
    message = BytesParser(policy=HTTP).parsebytes(head + request.body)
    assert message.is_multipart()
    fields = {}
    for part in message.iter_parts():
        fields[part.get_param("name", header="content-disposition")] = (
            part.get_filename(),
            part.get_content_type() if part.get("content-type") else None,
            part.get_payload(decode=True),
        )
    return fields


def decoded_seconds(data: bytes) -> tuple[str, str, int, int, float]:
    with av.open(io.BytesIO(data)) as container:
        stream = container.streams.audio[0]
        samples = sum(frame.samples for frame in container.decode(stream))
        return (
            container.format.name,
            stream.codec_context.name,
            stream.rate,
            stream.codec_context.channels,
            samples / stream.rate,
        )


# --- PyAV -------------------------------------------------------------------------------------------------------


def test_espeak_speech_becomes_a_real_ogg_opus_voice_note():
    wav = spoken_wav()
    assert wav[:4] == b"RIFF"
    note = audio.to_voice_note(wav, max_seconds=60)
    assert (note.mimetype, note.extension) == ("audio/ogg", "ogg") and note.content[:4] == b"OggS"
    container, codec, rate, channels, seconds = decoded_seconds(note.content)
    assert (container, codec, rate, channels) == ("ogg", "opus", 48000, 1)
    assert 1.0 < seconds < 10 and abs(seconds - note.seconds) < 0.1
    assert len(note.content) < len(wav) / 3  # Opus at speech bitrate: far smaller than the PCM


def test_an_ogg_opus_note_is_converted_to_16khz_mono_wav_for_transcription():
    note = voice_note()
    converted = audio.for_transcription(note, max_seconds=60)
    assert (converted.mimetype, converted.extension) == ("audio/wav", "wav") and converted.content[:4] == b"RIFF"
    container, codec, rate, channels, seconds = decoded_seconds(converted.content)
    assert (container, codec, rate, channels) == ("wav", "pcm_s16le", 16000, 1)
    assert abs(seconds - converted.seconds) < 0.1 and seconds > 1.0


def test_a_wav_note_is_passed_through_as_it_is():
    wav = spoken_wav("Да")
    converted = audio.for_transcription(wav, max_seconds=60)
    assert converted.content is wav and converted.mimetype == "audio/wav"


def png() -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (4, 4)).save(buffer, "PNG")
    return buffer.getvalue()


@pytest.mark.parametrize(
    "data,reason",
    [
        (b"", "empty"),
        (b"<html><script>alert(1)</script></html>" * 50, "not audio"),
        (b"OggS" + b"\x00" * 400, ""),
        (png(), "no audio stream"),
        (b"\x00" * 100_000, ""),
    ],
)
def test_what_is_not_a_voice_note_is_rejected_not_crashed_on(data, reason):
    for convert in (audio.for_transcription, audio.to_voice_note):
        with pytest.raises(audio.AudioRejected) as rejected:
            convert(data, max_seconds=60)
        assert reason in str(rejected.value)


def test_a_note_longer_than_the_limit_is_rejected_while_it_decodes():
    note = voice_note()
    with pytest.raises(audio.AudioRejected, match="longer than 1 s"):
        audio.for_transcription(note, max_seconds=1)
    with pytest.raises(audio.AudioRejected, match="longer than 1 s"):
        audio.to_voice_note(spoken_wav(), max_seconds=1)


def test_a_truncated_note_is_rejected_or_decoded_as_far_as_it_goes():
    note = voice_note()
    try:
        converted = audio.for_transcription(note[: len(note) // 2], max_seconds=60)
    except audio.AudioRejected:
        return
    assert converted.seconds < audio.for_transcription(note, max_seconds=60).seconds


# --- speech-to-text ---------------------------------------------------------------------------------------------


def test_transcription_posts_the_file_and_model_as_multipart_with_the_key(standin):  # noqa: F811
    standin.reply(json={"text": "  Здравствуйте,\n сколько стоит дом?  "})
    server = speech.SpeechServer(base_url=f"{standin.url}/v1", api_key=SERVER_KEY, model="whisper-1")
    wav = audio.for_transcription(voice_note(), max_seconds=60)
    text = speech.transcribe(server, wav.content, filename="voice.wav", mimetype=wav.mimetype, max_chars=1000)
    assert text == "Здравствуйте, сколько стоит дом?"
    request = standin.last
    assert (request.method, request.path) == ("POST", "/v1/audio/transcriptions")
    assert request.headers["authorization"] == f"Bearer {SERVER_KEY}"
    assert request.headers["content-type"].startswith("multipart/form-data; boundary=")
    fields = multipart_fields(request)
    assert fields["file"] == ("voice.wav", "audio/wav", wav.content)
    assert fields["model"][2] == b"whisper-1" and fields["response_format"][2] == b"json"


def test_a_server_without_a_key_gets_no_authorization_header(standin):  # noqa: F811
    standin.reply(json={"text": "ok"})
    speech.transcribe(
        speech.SpeechServer(base_url=standin.url), b"RIFF", filename="v.wav", mimetype="audio/wav", max_chars=10
    )
    assert "authorization" not in standin.last.headers
    assert multipart_fields(standin.last)["model"][2] == b"whisper-1"


def test_a_megabyte_transcript_is_cut_to_the_limit(standin):  # noqa: F811
    transcript = "слово " * 95_000 + "\x00"  # 1 MB of UTF-8 text, with a NUL at the end
    body = json.dumps({"text": transcript}, ensure_ascii=False).encode()
    assert len(body) > 1_000_000
    standin.reply(body=body, headers={"Content-Type": "application/json"})
    text = speech.transcribe(
        speech.SpeechServer(base_url=standin.url), b"RIFF", filename="v.wav", mimetype="audio/wav", max_chars=5000
    )
    assert len(text) == 5000 and text.startswith("слово слово") and "\x00" not in text


def test_an_answer_over_the_read_limit_is_refused_while_it_streams(standin):  # noqa: F811
    standin.reply(body=b'{"text": "' + b"a" * (speech.ANSWER_MAX_BYTES + 10) + b'"}')
    with pytest.raises(speech.SpeechError) as refused:
        speech.transcribe(
            speech.SpeechServer(base_url=standin.url), b"RIFF", filename="v.wav", mimetype="audio/wav", max_chars=10
        )
    assert not refused.value.retryable and "over" in refused.value.detail


@pytest.mark.parametrize("status,retryable", [(500, True), (503, True), (429, True), (400, False), (401, False)])
def test_transcription_errors_say_whether_a_retry_can_help_and_never_carry_the_key(standin, status, retryable):  # noqa: F811
    standin.reply(status, json={"error": {"message": "nope"}})
    with pytest.raises(speech.SpeechError) as failed:
        speech.transcribe(
            speech.SpeechServer(base_url=standin.url, api_key=SERVER_KEY),
            b"RIFF",
            filename="v.wav",
            mimetype="audio/wav",
            max_chars=10,
        )
    assert failed.value.retryable is retryable and str(status) in failed.value.detail
    assert SERVER_KEY not in str(failed.value)


@pytest.mark.parametrize("body", [b"[1, 2]", b'{"text": 5}', b'{"no": "text"}'])
def test_a_malformed_answer_is_a_refusal(standin, body):  # noqa: F811
    standin.reply(body=body, headers={"Content-Type": "application/json"})
    with pytest.raises(speech.SpeechError) as failed:
        speech.transcribe(
            speech.SpeechServer(base_url=standin.url), b"RIFF", filename="v.wav", mimetype="audio/wav", max_chars=10
        )
    assert not failed.value.retryable


def test_an_unreachable_server_is_retryable():
    with pytest.raises(speech.SpeechError) as failed:
        speech.transcribe(
            speech.SpeechServer(base_url="http://127.0.0.1:9"),
            b"RIFF",
            filename="v.wav",
            mimetype="audio/wav",
            max_chars=10,
        )
    assert failed.value.retryable


# --- text-to-speech ---------------------------------------------------------------------------------------------


def test_speech_is_asked_as_json_and_its_audio_returned(standin):  # noqa: F811
    wav = spoken_wav("Добрый день")
    standin.reply(body=wav)
    server = speech.SpeechServer(base_url=f"{standin.url}/v1", api_key=SERVER_KEY, model="tts-1", voice="nova")
    assert speech.synthesize(server, "Добрый день! " * 400) == wav
    request = standin.last
    assert (request.method, request.path) == ("POST", "/v1/audio/speech")
    assert request.headers["authorization"] == f"Bearer {SERVER_KEY}"
    assert request.json == {
        "model": "tts-1",
        "input": ("Добрый день! " * 400)[: speech.SPEAK_MAX_CHARS],
        "voice": "nova",
        "response_format": "wav",
    }


def test_speech_server_failures_and_empty_answers_are_speech_errors(standin):  # noqa: F811
    standin.reply(502).reply(body=b"")
    server = speech.SpeechServer(base_url=standin.url)
    with pytest.raises(speech.SpeechError) as failed:
        speech.synthesize(server, "Привет")
    assert failed.value.retryable
    with pytest.raises(speech.SpeechError, match="no audio"):
        speech.synthesize(server, "Привет")


def test_espeak_reads_text_from_stdin_so_nothing_in_it_is_an_option():
    wav = speech.espeak("--help -w /tmp/x.wav", language="en")
    assert wav[:4] == b"RIFF" and len(wav) > 1000


def test_a_missing_espeak_binary_is_a_speech_error():
    with pytest.raises(speech.SpeechError, match="espeak-ng"):
        speech.espeak("Привет", binary="/nonexistent/espeak-ng")
