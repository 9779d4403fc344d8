"""Tenant configuration: defaults, validation, secrets and masking (contract section 3).

The configuration is one JSON document per tenant (Tenant.config). Secret values are stored encrypted;
exports mask them unless asked for. Validation walks the whole document first and names the bad key.
"""
from __future__ import annotations

import copy
import re
import zoneinfo
from collections.abc import Callable
from typing import Any

from core import crypto
from tenants.presets import PRESETS


class ConfigError(ValueError):
    def __init__(self, key: str, message: str):
        super().__init__(f"{key}: {message}")
        self.key = key
        self.message = message


Validator = Callable[[str, Any], Any]


def _str(path: str, v: Any) -> str:
    if not isinstance(v, str):
        raise ConfigError(path, "must be a string")
    return v


def _secret(path: str, v: Any) -> str:
    return _str(path, v)


def _bool(path: str, v: Any) -> bool:
    if not isinstance(v, bool):
        raise ConfigError(path, "must be true or false")
    return v


def _int(path: str, v: Any) -> int:
    if isinstance(v, bool) or not isinstance(v, int):
        raise ConfigError(path, "must be an integer")
    if v < 0:
        raise ConfigError(path, "must not be negative")
    return v


def _number(path: str, v: Any) -> float | int:
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        raise ConfigError(path, "must be a number")
    if v < 0:
        raise ConfigError(path, "must not be negative")
    return v


def _positive(path: str, v: Any) -> float | int:
    v = _number(path, v)
    if v <= 0:
        raise ConfigError(path, "must be greater than zero")
    return v


def _time(path: str, v: Any) -> str:
    if not isinstance(v, str) or not re.fullmatch(r"([01]\d|2[0-3]):[0-5]\d", v):
        raise ConfigError(path, "must be a time HH:MM")
    return v


def _tz(path: str, v: Any) -> str:
    try:
        zoneinfo.ZoneInfo(_str(path, v))
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        raise ConfigError(path, f"unknown time zone {v!r}") from None
    return v


def _url(path: str, v: Any) -> str:
    if not isinstance(v, str) or (v and not re.match(r"^https?://", v)):
        raise ConfigError(path, "must be an http(s) URL")
    return v


def _choice(*options: str) -> Validator:
    def check(path: str, v: Any) -> str:
        if v not in options:
            raise ConfigError(path, f"must be one of {', '.join(options)}")
        return v

    return check


def _any_dict(path: str, v: Any) -> dict:
    if not isinstance(v, dict):
        raise ConfigError(path, "must be an object")
    return v


def _list(item: Validator) -> Validator:
    def check(path: str, v: Any) -> list:
        if not isinstance(v, list):
            raise ConfigError(path, "must be a list")
        return [item(f"{path}[{i}]", x) for i, x in enumerate(v)]

    return check


def _obj(spec: dict[str, Any], required: tuple[str, ...] = ()) -> Validator:
    def check(path: str, v: Any) -> dict:
        if not isinstance(v, dict):
            raise ConfigError(path, "must be an object")
        out = {}
        for key, value in v.items():
            sub = f"{path}.{key}" if path else key
            if key not in spec:
                raise ConfigError(sub, "unknown key")
            node = spec[key]
            out[key] = node(sub, value) if callable(node) else _obj(node)(sub, value)
        for key in required:
            if key not in v:
                raise ConfigError(f"{path}.{key}" if path else key, "is required")
        return out

    return check


FIELD_TYPES = ("text", "number", "boolean", "choice", "dimensions")


def _field(path: str, v: Any) -> dict:
    field = _obj(
        {
            "key": _str, "label": _str, "label_en": _str, "type": _choice(*FIELD_TYPES), "required": _bool,
            "hint": _str, "choices": _list(_str), "keywords": _list(_str),
        },
        required=("key", "type"),
    )(path, v)
    if not re.fullmatch(r"[a-z][a-z0-9_]{0,40}", field["key"]):
        raise ConfigError(f"{path}.key", "must be lower_snake_case")
    if field["type"] == "choice" and not field.get("choices"):
        raise ConfigError(f"{path}.choices", "a choice field needs choices")
    return field


def _qualification(path: str, v: Any) -> list:
    fields = _list(_field)(path, v)
    keys = [f["key"] for f in fields]
    dup = next((k for k in keys if keys.count(k) > 1), None)
    if dup:
        raise ConfigError(path, f"field key {dup!r} appears twice")
    return fields


def _first_contact_step(path: str, v: Any) -> dict:
    step = _obj(
        {
            "type": _choice("text", "image", "album", "link", "voice", "video", "document", "content"),
            "text": _str, "url": _url, "caption": _str, "content_id": _int,
            "items": _list(_obj({"url": _url, "caption": _str}, required=("url",))),
        },
        required=("type",),
    )(path, v)
    needs = {"text": "text", "image": "url", "link": "url", "voice": "url", "video": "url",
             "document": "url", "album": "items", "content": "content_id"}[step["type"]]
    if not step.get(needs):
        raise ConfigError(f"{path}.{needs}", f"is required for a {step['type']} step")
    return step


def _campaign(path: str, v: Any) -> dict:
    """A lead magnet: a code or keywords in the first message → free material at once + an onboarding chain."""
    campaign = _obj(
        {
            "code": _str, "name": _str, "keywords": _list(_str), "source": _str, "active": _bool,
            "text": _str, "content_id": _int,
            "steps": _list(_obj({"after_minutes": _positive, "text": _str, "content_id": _int},
                                required=("after_minutes",))),
        },
        required=("code",),
    )(path, v)
    if not re.fullmatch(r"[\w-]{1,64}", campaign["code"]):
        raise ConfigError(f"{path}.code", "must be 1-64 letters, digits, _ or -")
    if len(campaign.get("steps", [])) > 5:
        raise ConfigError(f"{path}.steps", "at most 5 onboarding steps")
    for i, step in enumerate(campaign.get("steps", [])):
        if not step.get("text") and not step.get("content_id"):
            raise ConfigError(f"{path}.steps[{i}].text", "a step needs text or content_id")
    return campaign


def _ig_account_id(path: str, v: Any) -> str:
    if not isinstance(v, str) or (v and not re.fullmatch(r"[0-9]{1,32}", v)):
        raise ConfigError(path, "must be an Instagram account id (digits)")
    return v


WINDOW = {"start": _time, "end": _time}
# What a WhatsApp template variable is filled with: the lead's name, phone, city; the sender's name; the company.
TEMPLATE_VARIABLES = ("name", "phone", "city", "manager", "company")
SPEC: dict[str, Any] = {
    "timezone": _tz,
    "language": _choice("ru", "en"),
    "company": _str,
    "currency": _str,
    "qualification_preset": _choice("generic_b2b", "construction", "custom"),
    "leads": {"managers_see_all": _bool},
    "ai": {
        "enabled": _bool, "provider": _choice("offline", "openai"), "model": _str, "base_url": _url,
        "api_key": _secret, "prompt": _str, "offer": _str, "debounce_seconds": _number,
        "timeout_seconds": _positive, "max_retries": _int,
        # voice notes (issue 15): the clients' notes transcribed; the AI answers a voice note with one
        "speech_to_text": {"base_url": _url, "api_key": _secret, "model": _str},
        "voice_replies": _bool,
        "text_to_speech": {"base_url": _url, "api_key": _secret, "model": _str, "voice": _str},
        # The AI's one persona (issue 14): the name it introduces itself with, its grammatical gender (f | m).
        "persona_name": _str, "persona_gender": _choice("f", "m"),
        "facts": _list(_obj({"when": lambda p, v: v if v is None else _any_dict(p, v),
                             "keywords": _list(_str), "text": _str, "text_en": _str}, required=("text",))),
    },
    "qualification": _qualification,
    "first_contact": _list(_first_contact_step),
    "followups": {
        "enabled": _bool,
        "steps": _list(_obj({"after_minutes": _positive, "text": _str, "text_en": _str, "template": _str},
                            required=("after_minutes",))),
        "quiet_hours": _obj(WINDOW, required=("start", "end")),
        "max_per_lead": _int,
        "spread_minutes": _number,
    },
    "reengagement": {"enabled": _bool, "after_days": _positive, "every_days": _positive,
                     "window": _obj(WINDOW, required=("start", "end"))},
    "campaigns": _list(_campaign),
    # auto: the configured WhatsApp channel (ChatFlow, else Cloud API), else the sandbox
    "outbound_channel": _choice("auto", "chatflow", "whatsapp_cloud", "telegram", "sandbox", "wwebjs"),
    "channels": {
        "chatflow": {"api_url": _url, "token": _secret, "instance_id": _str},
        "whatsapp_cloud": {"api_url": _url, "phone_number_id": _str, "access_token": _secret,
                           "app_secret": _secret, "verify_token": _secret, "followup_template": _str,
                           "template_language": _str,
                           # an approved template that opens the dialog with a lead who never wrote (amoCRM)
                           "greeting_template": _obj({"name": _str, "language": _str}, required=("name",)),
                           # approved templates a person may send when the 24 h window is closed (issue 16): the
                           # body as approved with {{1}}, {{2}}…, and what fills each (TEMPLATE_VARIABLES, in order)
                           "templates": _list(_obj({"name": _str, "language": _str, "text": _str,
                                                    "variables": _list(_choice(*TEMPLATE_VARIABLES))},
                                                   required=("name",)))},
        "telegram": {"api_url": _url, "bot_token": _secret, "secret_token": _secret, "bot_username": _str},
        # access_token: the contract's name of the page access token, read when page_access_token is unset
        "instagram": {"api_url": _url, "ig_account_id": _ig_account_id, "page_access_token": _secret,
                      "access_token": _secret, "app_secret": _secret, "verify_token": _secret},
        # WhatsApp Web through our bridge (bridge/whatsapp-web): session = the tenant's name on the bridge
        # enabled (the contract's switch): on the platform's own bridge, the rest is filled in at import
        "wwebjs": {"enabled": _bool, "bridge_url": _url, "session": _str, "secret": _secret},
    },
    # AI phone calls through Retell (integrations/retell.py), placed when a lead asks for a call and `enabled`
    "voice_calls": {"retell": {"api_url": _url, "api_key": _secret, "agent_id": _str, "from_number": _str,
                               "enabled": _bool}},
    "amocrm": {
        "base_url": _url, "account_id": _int, "access_token": _secret, "refresh_token": _secret,
        "client_id": _str, "client_secret": _secret, "redirect_uri": _str, "info_field": _str,
        "pipeline_id": _int, "stage_map": _any_dict, "responsible_map": _any_dict,
    },
    "google_calendar": {
        "api_url": _url, "token_uri": _url, "auth_uri": _url, "calendar_id": _str, "client_id": _str,
        "client_secret": _secret, "refresh_token": _secret, "meeting_minutes": _positive,
        "working_hours": _obj(WINDOW, required=("start", "end")),
    },
}


def _secret_paths(spec: dict, prefix: tuple = ()) -> list[tuple[str, ...]]:
    paths = []
    for key, node in spec.items():
        if node is _secret:
            paths.append(prefix + (key,))
        elif isinstance(node, dict):
            paths.extend(_secret_paths(node, prefix + (key,)))
    return paths


SECRET_PATHS = _secret_paths(SPEC)


def default_config(preset: str = "construction") -> dict:
    return {
        "timezone": "Asia/Almaty",
        "language": "ru",
        "company": "",
        "currency": "KZT",
        "qualification_preset": preset,
        "leads": {"managers_see_all": True},
        "ai": {"enabled": True, "provider": "offline", "model": "", "base_url": "", "api_key": "",
               "prompt": "", "offer": "", "debounce_seconds": 3, "facts": [],
               "persona_name": "Алия", "persona_gender": "f"},
        "qualification": copy.deepcopy(PRESETS[preset]),
        "first_contact": [
            {"type": "text", "text": "Здравствуйте{name_comma}! Меня зовут Алия, я помогу с вашим запросом. "
                                     "Расскажите, пожалуйста, что вас интересует?"},
        ],
        "followups": {
            "enabled": True,
            "steps": [{"after_minutes": 15, "text": "Подскажите, актуально?"},
                      {"after_minutes": 45, "text": "Когда удобно созвониться?"}],
            "quiet_hours": {"start": "21:00", "end": "09:00"},
            "max_per_lead": 3,
            "spread_minutes": 20,
        },
        "reengagement": {"enabled": True, "after_days": 7, "every_days": 14,
                         "window": {"start": "10:00", "end": "19:00"}},
        "campaigns": [],
        "outbound_channel": "auto",
        "channels": {},
        "amocrm": {"info_field": "Информация", "stage_map": {}, "responsible_map": {}},
        "google_calendar": {"api_url": "https://www.googleapis.com/", "token_uri": "https://oauth2.googleapis.com/token",
                            "auth_uri": "https://accounts.google.com/o/oauth2/v2/auth", "calendar_id": "primary",
                            "meeting_minutes": 30, "working_hours": {"start": "10:00", "end": "19:00"}},
    }


def validate(document: Any) -> dict:
    """Checks a (partial) configuration document; raises ConfigError naming the first bad key."""
    return _obj(SPEC)("", document)


def merge(base: dict, patch: dict) -> dict:
    """Objects merge key by key; lists and scalars replace. A masked secret keeps the stored value."""
    out = copy.deepcopy(base)
    for key, value in patch.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = merge(out[key], value)
        elif value == crypto.MASK:
            continue
        else:
            out[key] = copy.deepcopy(value)
    return out


def _walk_secrets(doc: dict, fn: Callable[[str], str]) -> dict:
    doc = copy.deepcopy(doc)
    for path in SECRET_PATHS:
        node = doc
        for key in path[:-1]:
            node = node.get(key) if isinstance(node, dict) else None
            if node is None:
                break
        if isinstance(node, dict) and isinstance(node.get(path[-1]), str):
            node[path[-1]] = fn(node[path[-1]])
    return doc


def encrypt_secrets(doc: dict) -> dict:
    return _walk_secrets(doc, crypto.encrypt)


def decrypt_secrets(doc: dict) -> dict:
    return _walk_secrets(doc, crypto.decrypt)


def mask_secrets(doc: dict) -> dict:
    return _walk_secrets(doc, crypto.mask)
