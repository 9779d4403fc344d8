"""One interface for the messenger channels: what the webhook entry, the send pipeline, the inbound media fetch,
leads and tenants ask of a provider, so none of them branches on a provider's name.

Each channel module (chatflow, whatsapp_cloud, telegram, sandbox) keeps its functions at module level (its
tests call them) and declares one `Channel` subclass whose methods are those functions;
`integrations.registry` holds one instance of each. Pure: payloads and HTTP, none of our other packages.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import ClassVar

import httpx

from integrations.base import (
    InboundMessage,
    OutboundMessage,
    Reaction,
    SendResult,
    StatusUpdate,
    Unsend,
    WebhookError,
)
from integrations.media import FetchedMedia, MediaFetchError


class Channel:
    """A messenger channel. Stateless: every call gets the tenant's decrypted `channels.<config_key>` section as
    `config` (an empty dict for a channel without one)."""

    provider: ClassVar[str]  # our name of it: the webhook URL's segment, Message.provider, Lead.provider
    config_key: ClassVar[str | None] = None  # its section of the tenant config, `channels.<config_key>`
    lead_channel: ClassVar[str]  # the lead's channel it speaks on ("whatsapp", "telegram", "sandbox")
    webhook: ClassVar[bool] = True  # it has a webhook URL /webhooks/<provider>/<token>/
    # What the tenant must have set (non-empty) in its section before the webhook URL opens; GET (a
    # subscription handshake) needs `subscription_keys` as well.
    required_keys: ClassVar[tuple[str, ...]] = ()
    subscription_keys: ClassVar[tuple[str, ...]] = ()
    # How long after the client's last message free text may go out (the Cloud API's 24 h); None: always.
    window: ClassVar[timedelta | None] = None
    # How long a person's (not the AI's) reply may still go out past `window` (Instagram's HUMAN_AGENT tag: 7 days).
    human_window: ClassVar[timedelta | None] = None

    def configured(self, config: object, *, method: str = "POST") -> bool:
        """Whether the tenant's section of this channel, as stored (a set secret is a non-empty encrypted
        string), is enough for its webhook to be accepted."""
        keys = self.required_keys + (self.subscription_keys if method == "GET" else ())
        return (self.webhook and isinstance(config, dict) and config.get("enabled", True) is not False
                and all(config.get(key) for key in keys))

    def parse_webhook(self, body: bytes, headers: Mapping[str, str],
                      config: dict) -> list[InboundMessage | StatusUpdate | Reaction | Unsend]:
        """A webhook body → the messages, statuses, reactions and unsends it carries; WebhookError (400/403)
        otherwise."""
        raise WebhookError(404, f"{self.provider} has no webhook")

    def verify_subscription(self, query: Mapping[str, str], config: dict) -> str:
        """The answer to a GET subscription handshake. Only the Cloud API has one; the others refuse a GET."""
        raise WebhookError(405, "method not allowed")

    def send(self, config: dict, message: OutboundMessage, *, client: httpx.Client | None = None,
             window_open: bool = True) -> SendResult:
        """Sends one message; SendError when it did not go through (`retryable` says whether a retry can help)."""
        raise NotImplementedError

    def window_open(self, last_inbound_at: datetime | None, now: datetime) -> bool:
        """Whether free text may go out now: always on a channel without a window, else only within it after the
        client's last message (`last_inbound_at`, None when the client never wrote)."""
        if self.window is None:
            return True
        return bool(last_inbound_at and now - last_inbound_at < self.window)

    def human_window_open(self, last_inbound_at: datetime | None, now: datetime) -> bool:
        """Whether a person's reply may still go out now although `window` is closed (`human_window`)."""
        if self.human_window is None:
            return False
        return bool(last_inbound_at and now - last_inbound_at < self.human_window)

    def profile_name(self, config: dict, identity: str, *, client: httpx.Client | None = None) -> str | None:
        """The client's display name looked up at the provider (once per new lead), for channels whose webhooks
        carry none; None when there is no such lookup or it failed."""
        return None

    def media_ref(self, media_url: str) -> str | None:
        """The provider's reference to a client's media inside the `media_url` its parser wrote (what
        `fetch_media` reads); None when the URL is none of this channel's references."""
        return None

    def fetch_media(self, config: dict, ref: str, *, max_bytes: int,
                    client: httpx.Client | None = None) -> FetchedMedia:
        """Downloads a client's media by its reference, at most `max_bytes`; MediaFetchError otherwise."""
        raise MediaFetchError(f"{self.provider}: media is not fetched from this channel", retryable=False)
