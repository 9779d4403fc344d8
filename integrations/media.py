"""Downloading a client's media from a provider: the shapes the channel adapters' `fetch_media` share, and one
bounded download. Pure HTTP (no Django): the adapters know each provider's steps, the caller stores the bytes."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass

import httpx

from integrations.base import retryable_status

# Connect / read timeouts of a media download; a provider slower than that is tried again later.
MEDIA_TIMEOUT = httpx.Timeout(30.0, connect=10.0)


@dataclass
class FetchedMedia:
    content: bytes
    mimetype: str | None  # as the provider declares it (Telegram declares none); the caller verifies it
    provider_size: int | None = None  # what the provider said the file weighs, when it said


class MediaFetchError(Exception):
    """A download that did not happen. `retryable`: a 5xx, 408/429, a timeout or a dropped connection (trying
    later can help); otherwise a refusal, an expired or unknown file, or one over the size limit (`too_large`)."""

    def __init__(self, detail: str, *, retryable: bool, too_large: bool = False) -> None:
        super().__init__(detail)
        self.detail = detail
        self.retryable = retryable
        self.too_large = too_large


@contextmanager
def media_client(client: httpx.Client | None) -> Iterator[httpx.Client]:
    """The caller's client (tests, connection reuse) or a short-lived one that follows redirects."""
    if client is not None:
        yield client
        return
    with httpx.Client(timeout=MEDIA_TIMEOUT, follow_redirects=True) as own:
        yield own


def too_large(provider: str, size: int, max_bytes: int) -> MediaFetchError:
    return MediaFetchError(f"{provider}: the file is {size} bytes, over the {max_bytes}-byte limit; not fetched",
                           retryable=False, too_large=True)


def size_of(value) -> int | None:
    """A declared size (Meta sends a string, Telegram a number)."""
    try:
        size = int(str(value))
    except (TypeError, ValueError):
        return None
    return size if size >= 0 else None


@contextmanager
def transport_errors(provider: str, what: str) -> Iterator[None]:
    """httpx's failures as MediaFetchError. Details never carry the URL (Telegram's holds the bot token)."""
    try:
        yield
    except httpx.TimeoutException as exc:
        raise MediaFetchError(f"{provider}: {what} timed out ({type(exc).__name__})", retryable=True) from None
    except (httpx.UnsupportedProtocol, httpx.InvalidURL) as exc:
        raise MediaFetchError(f"{provider}: {what}: bad URL ({type(exc).__name__})", retryable=False) from None
    except httpx.TransportError as exc:
        raise MediaFetchError(f"{provider}: {what}: connection error ({type(exc).__name__})", retryable=True) from None


def refused(provider: str, what: str, response: httpx.Response) -> MediaFetchError | None:
    if response.status_code < 400:
        return None
    return MediaFetchError(f"{provider}: {what} answered HTTP {response.status_code}",
                           retryable=retryable_status(response.status_code))


def request(client: httpx.Client, provider: str, what: str, url: str, **kwargs) -> httpx.Response:
    """One metadata request (GET): a transport failure or an HTTP error is a MediaFetchError."""
    with transport_errors(provider, what):
        response = client.get(url, **kwargs)
    error = refused(provider, what, response)
    if error:
        raise error
    return response


def download(client: httpx.Client, provider: str, url: str, *, max_bytes: int,
             headers: Mapping[str, str] | None = None) -> tuple[bytes, str | None]:
    """GET `url` and read at most `max_bytes` of it (a longer body is refused while it streams, whatever its
    Content-Length said). Returns the bytes and the declared Content-Type."""
    if not url.startswith(("https://", "http://")):
        raise MediaFetchError(f"{provider}: the file's URL is not http(s)", retryable=False)
    with transport_errors(provider, "the download"), client.stream("GET", url, headers=dict(headers or {})) as response:
        error = refused(provider, "the download", response)
        if error:
            raise error
        declared = size_of(response.headers.get("content-length"))
        if declared is not None and declared > max_bytes:
            raise too_large(provider, declared, max_bytes)
        chunks, received = [], 0
        for chunk in response.iter_bytes():
            received += len(chunk)
            if received > max_bytes:
                raise too_large(provider, received, max_bytes)
            chunks.append(chunk)
        return b"".join(chunks), response.headers.get("content-type")


def signed_url_ref(media_url: str) -> str | None:
    """A client's media given as a signed, short-lived link (Meta's CDN, the WhatsApp Web bridge), read as is."""
    return media_url if media_url.startswith(("https://", "http://")) else None


def fetch_signed_url(provider: str, ref: str, *, max_bytes: int, client: httpx.Client | None = None) -> FetchedMedia:
    """Downloads such a link (no token: the URL is signed), at most `max_bytes`."""
    if signed_url_ref(ref) is None:
        raise MediaFetchError(f"{provider}: the media reference is not a URL", retryable=False)
    with media_client(client) as http:
        content, content_type = download(http, provider, ref, max_bytes=max_bytes)
    return FetchedMedia(content=content, mimetype=content_type or None, provider_size=None)
