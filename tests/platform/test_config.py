import json

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from core import crypto
from tenants.models import Tenant
from tenants.services import tenant_config_export, tenant_config_get, tenant_config_import


def _full_document() -> dict:
    return {
        "timezone": "Asia/Almaty",
        "ai": {"enabled": True, "provider": "openai", "model": "gpt-4o-mini", "base_url": "https://api.openai.com/v1",
               "api_key": "sk-secret-123", "prompt": "Ты менеджер"},
        "qualification": [{"key": "city", "label": "Город", "type": "text", "required": True, "hint": "город"}],
        "first_contact": [{"type": "text", "text": "Здравствуйте!"}, {"type": "image", "url": "https://x.kz/a.jpg",
                                                                     "caption": "Наш дом"},
                          {"type": "album", "items": [{"url": "https://x.kz/1.jpg", "caption": "1"}]},
                          {"type": "link", "url": "https://x.kz", "text": "Сайт"},
                          {"type": "voice", "url": "https://x.kz/v.ogg"}],
        "followups": {"steps": [{"after_minutes": 15, "text": "Подскажите, актуально?"},
                                {"after_minutes": 0.05, "text": "Когда удобно созвониться?"}],
                      "quiet_hours": {"start": "21:00", "end": "09:00"}, "max_per_lead": 3},
        "channels": {"chatflow": {"api_url": "https://app.chatflow.kz/api/v1", "token": "cf-token",
                                  "instance_id": "i1"},
                     "whatsapp_cloud": {"api_url": "https://graph.facebook.com/v21.0", "phone_number_id": "1",
                                        "access_token": "wa-token", "app_secret": "wa-secret", "verify_token": "vt"},
                     "telegram": {"api_url": "https://api.telegram.org", "bot_token": "tg-token",
                                  "secret_token": "tg-secret"}},
        "amocrm": {"base_url": "https://example.amocrm.ru", "account_id": 30000001, "access_token": "amo-token",
                   "info_field": "Информация"},
        "google_calendar": {"api_url": "https://www.googleapis.com/", "token_uri": "https://oauth2.googleapis.com/token",
                            "calendar_id": "primary", "client_id": "cid", "client_secret": "gsecret",
                            "refresh_token": "grefresh", "meeting_minutes": 30,
                            "working_hours": {"start": "10:00", "end": "19:00"}},
    }


SECRETS = ["sk-secret-123", "cf-token", "wa-token", "wa-secret", "tg-token", "tg-secret", "amo-token", "gsecret",
           "grefresh"]


def test_import_then_export_round_trip_with_secrets_encrypted_and_masked(tenant_a):
    tenant_config_import(tenant_a, _full_document())
    stored = json.dumps(Tenant.objects.get(pk=tenant_a.pk).config)
    for secret in SECRETS:
        assert secret not in stored, f"{secret} stored in clear"
    assert crypto.PREFIX in stored
    masked = json.dumps(tenant_config_export(tenant_a), ensure_ascii=False)
    for secret in SECRETS:
        assert secret not in masked
    assert crypto.MASK in masked
    full = tenant_config_export(tenant_a, with_secrets=True)
    doc = _full_document()
    for section in ("ai", "channels", "amocrm", "google_calendar", "followups", "first_contact", "qualification"):
        assert _contains(full[section], doc[section]), section
    # Importing the masked export changes nothing (masked secrets keep their stored values).
    tenant_config_import(tenant_a, tenant_config_export(tenant_a))
    assert tenant_config_get(Tenant.objects.get(pk=tenant_a.pk))["ai"]["api_key"] == "sk-secret-123"


def _contains(actual, expected) -> bool:
    if isinstance(expected, dict):
        return all(_contains(actual.get(k), v) for k, v in expected.items())
    return actual == expected


@pytest.mark.parametrize("patch, bad_key", [
    ({"timezone": "Mars/Olympus"}, "timezone"),
    ({"ai": {"provider": "skynet"}}, "ai.provider"),
    ({"followups": {"quiet_hours": {"start": "25:00", "end": "09:00"}}}, "followups.quiet_hours.start"),
    ({"qualification": [{"key": "x", "type": "colour"}]}, "qualification[0].type"),
    ({"first_contact": [{"type": "image"}]}, "first_contact[0].url"),
    ({"amocrm": {"account_id": "abc"}}, "amocrm.account_id"),
    ({"nonsense": 1}, "nonsense"),
])
def test_import_is_all_or_nothing_and_names_the_bad_key(tenant_a, tmp_path, patch, bad_key):
    before = Tenant.objects.get(pk=tenant_a.pk).config
    document = {"ai": {"prompt": "changed"}, **patch}
    if "ai" in patch:
        document["ai"] = {"prompt": "changed", **patch["ai"]}
    path = tmp_path / "c.json"
    path.write_text(json.dumps(document))
    with pytest.raises(CommandError) as err:
        call_command("tenant_config", "alpha", import_file=str(path))
    assert bad_key in str(err.value)
    assert Tenant.objects.get(pk=tenant_a.pk).config == before


def test_export_command_masks_unless_asked(tenant_a, capsys):
    tenant_config_import(tenant_a, {"ai": {"api_key": "sk-visible-only-with-flag"}})
    call_command("tenant_config", "alpha", export=True)
    assert "sk-visible-only-with-flag" not in capsys.readouterr().out
    call_command("tenant_config", "alpha", export=True, with_secrets=True)
    assert "sk-visible-only-with-flag" in capsys.readouterr().out


def test_presets_are_selectable(tenant_a):
    from tenants.presets import PRESETS

    assert [f["key"] for f in PRESETS["generic_b2b"]] == ["company_size", "budget", "needs", "urgency", "has_crm"]
    assert [f["key"] for f in PRESETS["construction"]] == ["city", "dimensions", "foundation_closed", "windows",
                                                           "doors", "has_project"]
    tenant_config_import(tenant_a, {"qualification": PRESETS["generic_b2b"], "qualification_preset": "generic_b2b"})
    fields = tenant_config_get(Tenant.objects.get(pk=tenant_a.pk))["qualification"]
    assert fields[0]["key"] == "company_size"


def test_voice_settings_are_validated_and_their_keys_encrypted_and_masked(tenant_a):
    """Issue 15: ai.speech_to_text, ai.voice_replies, ai.text_to_speech (CONTRACT section 3)."""
    voice = {"speech_to_text": {"base_url": "https://api.openai.com/v1", "api_key": "sk-stt-777", "model": "whisper-1"},
             "voice_replies": True,
             "text_to_speech": {"base_url": "http://tts.local:8000/v1", "api_key": "sk-tts-888", "model": "tts-1",
                                "voice": "alloy"}}
    tenant_config_import(tenant_a, {"ai": voice})
    stored = json.dumps(Tenant.objects.get(pk=tenant_a.pk).config)
    assert "sk-stt-777" not in stored and "sk-tts-888" not in stored
    masked = tenant_config_export(tenant_a)["ai"]
    assert masked["speech_to_text"]["api_key"] == masked["text_to_speech"]["api_key"] == crypto.MASK
    full = tenant_config_export(tenant_a, with_secrets=True)["ai"]
    assert _contains(full, voice)
    for patch, bad_key in [({"speech_to_text": {"base_url": "ftp://x"}}, "ai.speech_to_text.base_url"),
                           ({"voice_replies": "yes"}, "ai.voice_replies"),
                           ({"text_to_speech": {"voice": 5}}, "ai.text_to_speech.voice"),
                           ({"speech_to_text": {"language": "ru"}}, "ai.speech_to_text.language")]:
        with pytest.raises(ValueError) as err:
            tenant_config_import(tenant_a, {"ai": patch})
        assert bad_key in str(err.value)
