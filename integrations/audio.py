"""Audio conversions of voice notes with PyAV (FFmpeg's libraries; no subprocess, no temporary files).

In: a client's note in whatever a messenger records (OGG/Opus, AMR, M4A/AAC, MP3, WebM) → 16 kHz mono WAV for a
speech-to-text server (what Whisper resamples to anyway: every server accepts it). Out: the WAV/MP3 a text-to-speech
engine speaks → OGG/Opus, the one format WhatsApp and Telegram show as a voice note. Bytes that are not audio, hold
no sound or last longer than the limit raise AudioRejected; everything is decoded in memory from bytes whose size
the caller bounded. Pure: no Django, none of our other packages.
"""

from __future__ import annotations

import io
from dataclasses import dataclass

import av

# Containers a speech-to-text server takes as they are (OpenAI documents flac, mp3, mp4, mpeg, mpga, m4a, ogg, wav,
# webm; self-hosted servers decode these too): a note already in one of them with a usable codec is passed through.
PASS_THROUGH = {
    ("wav", "pcm_s16le"): ("audio/wav", "wav"),
    ("mp3", "mp3"): ("audio/mpeg", "mp3"),
    ("mp3", "mp3float"): ("audio/mpeg", "mp3"),
    ("flac", "flac"): ("audio/flac", "flac"),
}
STT_RATE = 16_000
VOICE_RATE = 48_000  # Opus's native rate
VOICE_BITRATE = 24_000  # speech at 24 kbit/s: clear, ~3 KB a second
# libopus tuned for speech; complexity 2 of 10 encodes ~4x faster than the default 10, still clear speech at 24 kbit/s.
VOICE_OPTIONS = {"application": "voip", "compression_level": "2"}


class AudioRejected(ValueError):
    """The bytes are not a voice note we can use; the message says why."""


@dataclass
class Audio:
    content: bytes
    mimetype: str
    extension: str
    seconds: float


def _open_audio(data: bytes):
    if not data:
        raise AudioRejected("empty file")
    try:
        container = av.open(io.BytesIO(data), mode="r", metadata_errors="ignore")
    except (av.FFmpegError, ValueError, OSError, UnicodeDecodeError) as exc:
        raise AudioRejected(f"not audio ({type(exc).__name__})") from None
    if not container.streams.audio:
        container.close()
        raise AudioRejected("no audio stream")
    return container


def _frames(container, *, max_seconds: float):
    """The decoded frames of the first audio stream, stopping with AudioRejected past `max_seconds`."""
    stream = container.streams.audio[0]
    seconds = 0.0
    try:
        for frame in container.decode(stream):
            if not frame.sample_rate:
                continue
            seconds += frame.samples / frame.sample_rate
            if seconds > max_seconds:
                raise AudioRejected(f"longer than {max_seconds:g} s")
            frame.pts = None  # the encoder numbers its own frames (sources' timestamps may be broken)
            yield frame
    except AudioRejected:
        raise
    except (av.FFmpegError, ValueError, OSError, MemoryError) as exc:
        raise AudioRejected(f"audio does not decode ({type(exc).__name__})") from None


def _encode(
    data: bytes,
    *,
    container_format: str,
    codec: str,
    rate: int,
    max_seconds: float,
    bit_rate: int | None = None,
    options: dict[str, str] | None = None,
) -> tuple[bytes, float]:
    source = _open_audio(data)
    out = io.BytesIO()
    seconds = 0.0
    try:
        with av.open(out, mode="w", format=container_format) as target:
            stream = target.add_stream(codec, rate=rate, layout="mono", options=options or {})
            if bit_rate:
                stream.bit_rate = bit_rate
            for frame in _frames(source, max_seconds=max_seconds):
                seconds += frame.samples / frame.sample_rate
                for packet in stream.encode(frame):  # PyAV resamples to the codec's format, rate and frame size
                    target.mux(packet)
            if seconds <= 0:
                raise AudioRejected("no sound in the file")
            for packet in stream.encode(None):
                target.mux(packet)
    except AudioRejected:
        raise
    except (av.FFmpegError, ValueError, OSError) as exc:
        raise AudioRejected(f"audio does not convert ({type(exc).__name__})") from None
    finally:
        source.close()
    return out.getvalue(), seconds


def for_transcription(data: bytes, *, max_seconds: float) -> Audio:
    """A client's note as a speech-to-text server takes it: WAV 16 kHz mono, or the bytes as they are when they
    already are WAV/MP3/FLAC (decoded through once all the same: the length is checked and junk refused)."""
    container = _open_audio(data)
    try:
        kind = (container.format.name.split(",")[0], container.streams.audio[0].codec_context.name)
        if kind in PASS_THROUGH:
            seconds = sum(frame.samples / frame.sample_rate for frame in _frames(container, max_seconds=max_seconds))
            if seconds <= 0:
                raise AudioRejected("no sound in the file")
            mimetype, extension = PASS_THROUGH[kind]
            return Audio(content=data, mimetype=mimetype, extension=extension, seconds=seconds)
    finally:
        container.close()
    # One decoding pass converts and checks the length and the sound.
    wav, seconds = _encode(data, container_format="wav", codec="pcm_s16le", rate=STT_RATE, max_seconds=max_seconds)
    return Audio(content=wav, mimetype="audio/wav", extension="wav", seconds=seconds)


def to_voice_note(data: bytes, *, max_seconds: float) -> Audio:
    """Speech (WAV, MP3, anything FFmpeg decodes) as a voice note: OGG/Opus, 48 kHz mono."""
    ogg, seconds = _encode(
        data,
        container_format="ogg",
        codec="libopus",
        rate=VOICE_RATE,
        max_seconds=max_seconds,
        bit_rate=VOICE_BITRATE,
        options=VOICE_OPTIONS,
    )
    return Audio(content=ogg, mimetype="audio/ogg", extension="ogg", seconds=seconds)
