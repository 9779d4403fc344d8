"""Speech services for voice notes: an OpenAI-compatible speech-to-text and text-to-speech server (OpenAI's Whisper
and TTS, or a self-hosted faster-whisper / openedai-speech), and espeak-ng as the built-in voice.

    POST {base_url}/audio/transcriptions  multipart: file, model, response_format=json   → {"text": "…"}
    POST {base_url}/audio/speech          JSON: model, input, voice, response_format=wav → the audio's bytes

Pure: HTTP and a subprocess, none of our other packages. Every answer is read to a bound (a server that sends a
megabyte of "transcript" costs us a bounded read, and the text is cut to the caller's limit).
"""

from __future__ import annotations

import functools
import json
import ssl
import subprocess
from dataclasses import dataclass

import httpx

from integrations.base import clean_text, retryable_status

TIMEOUT = httpx.Timeout(60.0, connect=10.0)  # a minute's note takes a CPU-only whisper server several seconds
ANSWER_MAX_BYTES = 2 * 1024 * 1024  # a transcription's JSON answer; past it the answer is refused
SPEECH_MAX_BYTES = 20 * 1024 * 1024  # a synthesized reply's audio
SPEAK_MAX_CHARS = 2_000  # of one reply spoken (a voice note of a few minutes); the text itself is kept whole
ESPEAK_VOICES = {"ru": "ru", "en": "en"}


@functools.cache
def tls_context() -> ssl.SSLContext:
    """httpx's default TLS context, made once per process: loading the CA bundle costs ~50-250 ms, every time a
    client is made without one."""
    return httpx.create_ssl_context()


@dataclass(frozen=True)
class SpeechServer:
    """An OpenAI-compatible speech endpoint: base_url like https://api.openai.com/v1."""

    base_url: str
    api_key: str = ""
    model: str = ""
    voice: str = ""

    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.api_key}"} if self.api_key else {}


class SpeechError(Exception):
    """The server did not give us what we asked. `retryable`: a 5xx, 408/429, a timeout or a dropped connection."""

    def __init__(self, detail: str, *, retryable: bool) -> None:
        super().__init__(detail)
        self.detail = detail
        self.retryable = retryable


def _post(
    server: SpeechServer, path: str, *, client: httpx.Client | None, max_bytes: int, what: str, **kwargs
) -> tuple[bytes, str]:
    """POST, the answer read to at most `max_bytes` (longer: refused while it streams). Returns body, content type.
    Details never carry the key."""
    url = server.base_url.rstrip("/") + path
    if not url.startswith(("https://", "http://")):
        raise SpeechError(f"{what}: the server's URL is not http(s)", retryable=False)
    own = client is None
    http = client or httpx.Client(timeout=TIMEOUT, verify=tls_context())
    try:
        with http.stream("POST", url, headers=server.headers(), **kwargs) as response:
            if response.status_code >= 400:
                raise SpeechError(
                    f"{what} answered HTTP {response.status_code}", retryable=retryable_status(response.status_code)
                )
            chunks, received = [], 0
            for chunk in response.iter_bytes():
                received += len(chunk)
                if received > max_bytes:
                    raise SpeechError(f"{what}: the answer is over {max_bytes} bytes", retryable=False)
                chunks.append(chunk)
            return b"".join(chunks), response.headers.get("content-type", "")
    except httpx.TimeoutException as exc:
        raise SpeechError(f"{what} timed out ({type(exc).__name__})", retryable=True) from None
    except (httpx.UnsupportedProtocol, httpx.InvalidURL) as exc:
        raise SpeechError(f"{what}: bad URL ({type(exc).__name__})", retryable=False) from None
    except httpx.TransportError as exc:
        raise SpeechError(f"{what}: connection error ({type(exc).__name__})", retryable=True) from None
    finally:
        if own:
            http.close()


def transcribe(
    server: SpeechServer,
    audio: bytes,
    *,
    filename: str,
    mimetype: str,
    max_chars: int,
    client: httpx.Client | None = None,
) -> str:
    """The text of a voice note (one line of whitespace-joined words, at most `max_chars` characters, storable).
    An empty text is an answer too (a note with no speech in it)."""
    body, content_type = _post(
        server,
        "/audio/transcriptions",
        client=client,
        max_bytes=ANSWER_MAX_BYTES,
        what="speech-to-text",
        files={"file": (filename, audio, mimetype)},
        data={"model": server.model or "whisper-1", "response_format": "json"},
    )
    try:
        answer = json.loads(body)
    except ValueError:
        if "json" in content_type:
            raise SpeechError("speech-to-text answered malformed JSON", retryable=False) from None
        answer = {"text": body.decode("utf-8", "replace")}  # a server that answers text/plain regardless
    text = answer.get("text") if isinstance(answer, dict) else None
    if not isinstance(text, str):
        raise SpeechError("speech-to-text answered without a text", retryable=False)
    # Bounded before the whitespace is normalised (a regex-free split of a bounded prefix).
    return clean_text(" ".join(text[: max_chars * 2].split()))[:max_chars]


def synthesize(server: SpeechServer, text: str, *, language: str = "ru", client: httpx.Client | None = None) -> bytes:
    """Speech of `text` (its first SPEAK_MAX_CHARS characters) as WAV, as the server renders it."""
    body, _ = _post(
        server,
        "/audio/speech",
        client=client,
        max_bytes=SPEECH_MAX_BYTES,
        what="text-to-speech",
        json={
            "model": server.model or "tts-1",
            "input": text[:SPEAK_MAX_CHARS],
            "voice": server.voice or "alloy",
            "response_format": "wav",
        },
    )
    if not body:
        raise SpeechError("text-to-speech answered no audio", retryable=False)
    return body


def espeak(text: str, *, language: str = "ru", binary: str = "espeak-ng", timeout: float = 30.0) -> bytes:
    """The built-in voice: espeak-ng reading `text` (from stdin: nothing in it is taken as an option) → WAV."""
    voice = ESPEAK_VOICES.get(language, "ru")
    try:
        done = subprocess.run(
            [binary, "-v", voice, "--stdout"],
            input=text[:SPEAK_MAX_CHARS].encode(),
            capture_output=True,
            timeout=timeout,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise SpeechError(f"espeak-ng: {type(exc).__name__}", retryable=False) from None
    if done.returncode != 0 or not done.stdout:
        raise SpeechError(
            f"espeak-ng exited {done.returncode}: {done.stderr[:200].decode(errors='replace')}", retryable=False
        )
    return done.stdout
