"""The configuration sections issue 15 adds: `channels.instagram` and `voice_calls.retell` are validated key by key,
and their secrets are stored encrypted and masked like every other secret."""

from __future__ import annotations

import pytest

from core import crypto
from tenants import config as tconfig


def test_the_sections_validate_and_name_the_bad_key():
    good = {
        "channels": {
            "instagram": {
                "api_url": "https://graph.facebook.com/v21.0",
                "ig_account_id": "17841400000000001",
                "page_access_token": "t",
                "app_secret": "s",
                "verify_token": "v",
            }
        },
        "voice_calls": {
            "retell": {
                "api_url": "https://api.retellai.com",
                "api_key": "k",
                "agent_id": "a",
                "from_number": "+77270000000",
                "enabled": True,
            }
        },
    }
    assert tconfig.validate(good) == good
    for bad, key in [
        ({"channels": {"instagram": {"ig_account_id": "../me"}}}, "channels.instagram.ig_account_id"),
        ({"channels": {"instagram": {"api_url": "ftp://x"}}}, "channels.instagram.api_url"),
        ({"voice_calls": {"retell": {"enabled": "yes"}}}, "voice_calls.retell.enabled"),
        ({"voice_calls": {"retell": {"webhook_secret": "x"}}}, "voice_calls.retell.webhook_secret"),
    ]:
        with pytest.raises(tconfig.ConfigError) as exc:
            tconfig.validate(bad)
        assert exc.value.key == key


def test_their_secrets_are_encrypted_and_masked():
    doc = {
        "channels": {
            "instagram": {
                "page_access_token": "IGAA-secret",
                "app_secret": "s",
                "verify_token": "v",
                "ig_account_id": "1784",
            }
        },
        "voice_calls": {"retell": {"api_key": "key_secret", "agent_id": "agent"}},
    }
    stored = tconfig.encrypt_secrets(doc)
    assert stored["channels"]["instagram"]["page_access_token"] != "IGAA-secret"
    assert stored["voice_calls"]["retell"]["api_key"] != "key_secret"
    assert (
        stored["channels"]["instagram"]["ig_account_id"] == "1784"
        and stored["voice_calls"]["retell"]["agent_id"] == "agent"
    )
    assert tconfig.decrypt_secrets(stored) == doc
    masked = tconfig.mask_secrets(doc)
    assert masked["voice_calls"]["retell"]["api_key"] == crypto.mask("key_secret") != "key_secret"
