"""The messenger channels by provider name: one instance of each `integrations.channel.Channel`."""

from __future__ import annotations

from integrations.channel import Channel
from integrations.chatflow import ChatFlow
from integrations.instagram import Instagram
from integrations.sandbox import Sandbox
from integrations.telegram import Telegram
from integrations.whatsapp_cloud import WhatsAppCloud
from integrations.wwebjs import WWebJS

_CHANNELS: dict[str, Channel] = {
    c.provider: c for c in (ChatFlow(), WhatsAppCloud(), Telegram(), Sandbox(), Instagram(), WWebJS())
}


def channel(provider: str) -> Channel:
    """The channel of `provider`; KeyError when we have none by that name."""
    return _CHANNELS[provider]


def find(provider: str) -> Channel | None:
    """The channel of `provider`, or None when we have none by that name."""
    return _CHANNELS.get(provider)


def channels() -> tuple[Channel, ...]:
    """Every channel, in a fixed order (ChatFlow, the Cloud API, Telegram, the sandbox, Instagram, the WhatsApp
    Web bridge)."""
    return tuple(_CHANNELS.values())
