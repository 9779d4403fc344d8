"""The global admin: tenants, every setting of the contract, and technical health per tenant."""
from __future__ import annotations

import json

from django import forms
from django.conf import settings
from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.http import Http404, HttpResponseNotAllowed, HttpResponseRedirect, JsonResponse
from django.template.response import TemplateResponse
from django.urls import path as url_path
from django.urls import reverse
from django.utils.html import format_html
from django.utils.safestring import mark_safe

from tenants import config as tconfig
from tenants.admin_editors import EDITORS, RowsWidget, StructuredField, message, place_error
from tenants.models import Domain, Tenant, TenantHealth
from tenants.selectors import (
    WEBHOOK_PROVIDERS,
    tenant_config_get,
    tenant_pending_work,
    webhook_base_url,
    webhook_provider_configured,
    webhook_tokens,
    webhook_urls,
    wwebjs_session_state,
)
from tenants.services import (
    ProvisioningError,
    tenant_config_import,
    tenant_delete_mark,
    tenant_provision,
    tenant_resume,
    tenant_suspend,
    webhook_token_rotate,
    wwebjs_session_call,
)

# Only platform superusers may use the global admin.
admin.site.has_permission = lambda request: request.user.is_active and request.user.is_superuser

# The WhatsApp Web session's states as the admin page names them (Russian / English).
WWEBJS_STATES = {"pairing": "ожидает сканирования QR / pairing", "connected": "подключён / connected",
                 "logged_out": "не в сети / logged out", "unreachable": "мост недоступен / bridge unreachable",
                 "not_configured": "не настроен / not configured"}

S, T, B, N, J, C, P = "str", "text", "bool", "num", "json", "choice", "secret"
# form field → (config path, kind, label, choices)
CONFIG_FIELDS: list[tuple[str, tuple[str, ...], str, str, tuple]] = [
    ("timezone", ("timezone",), S, "Часовой пояс (IANA, напр. Asia/Almaty)", ()),
    ("language", ("language",), C, "Язык по умолчанию", ("ru", "en")),
    ("company", ("company",), S, "Название компании для AI", ()),
    ("managers_see_all", ("leads", "managers_see_all"), B, "Менеджеры видят все заявки", ()),
    ("ai_enabled", ("ai", "enabled"), B, "AI включён", ()),
    ("ai_provider", ("ai", "provider"), C, "AI: мозг", ("offline", "openai")),
    ("ai_model", ("ai", "model"), S, "AI: модель (пусто — OPENAI_MODEL платформы)", ()),
    ("ai_base_url", ("ai", "base_url"), S, "AI: base_url (пусто — OPENAI_BASE_URL)", ()),
    ("ai_api_key", ("ai", "api_key"), P, "AI: API key", ()),
    ("ai_prompt", ("ai", "prompt"), T, "AI: промпт компании", ()),
    ("ai_offer", ("ai", "offer"), T, "AI: краткое предложение", ()),
    ("ai_facts", ("ai", "facts"), J, "AI: факты и условные ответы", ()),
    ("ai_debounce_seconds", ("ai", "debounce_seconds"), N, "AI: ждать быстрых сообщений, сек", ()),
    ("stt_base_url", ("ai", "speech_to_text", "base_url"), S,
     "Голосовые: распознавание речи base_url (…/v1; пусто — SPEECH_TO_TEXT_URL платформы)", ()),
    ("stt_api_key", ("ai", "speech_to_text", "api_key"), P, "Голосовые: распознавание речи API key", ()),
    ("stt_model", ("ai", "speech_to_text", "model"), S, "Голосовые: модель распознавания (напр. whisper-1)", ()),
    ("voice_replies", ("ai", "voice_replies"), B, "Голосовые: AI отвечает голосом на голосовые", ()),
    ("tts_base_url", ("ai", "text_to_speech", "base_url"), S,
     "Голосовые: синтез речи base_url (пусто — встроенный espeak-ng)", ()),
    ("tts_api_key", ("ai", "text_to_speech", "api_key"), P, "Голосовые: синтез речи API key", ()),
    ("tts_model", ("ai", "text_to_speech", "model"), S, "Голосовые: модель синтеза (напр. tts-1)", ()),
    ("tts_voice", ("ai", "text_to_speech", "voice"), S, "Голосовые: голос синтеза (напр. alloy)", ()),
    ("ai_persona_name", ("ai", "persona_name"), S, "AI: имя, которым AI представляется", ()),
    ("ai_persona_gender", ("ai", "persona_gender"), C, "AI: грамматический род (f — «уточнила», m — «уточнил»)",
     ("f", "m")),
    ("qualification_preset", ("qualification_preset",), C, "Пресет квалификации",
     ("construction", "generic_b2b", "custom")),
    ("qualification", ("qualification",), J, "Поля квалификации", ()),
    ("first_contact", ("first_contact",), J, "Первый контакт: цепочка", ()),
    ("followups_enabled", ("followups", "enabled"), B, "Дожимы включены", ()),
    ("followup_steps", ("followups", "steps"), J, "Дожимы: шаги", ()),
    ("quiet_start", ("followups", "quiet_hours", "start"), S, "Тихие часы: начало (HH:MM)", ()),
    ("quiet_end", ("followups", "quiet_hours", "end"), S, "Тихие часы: конец (HH:MM)", ()),
    ("max_per_lead", ("followups", "max_per_lead"), N, "Дожимов максимум за молчание", ()),
    ("reengagement", ("reengagement",), J, "Реактивация", ()),
    ("campaigns", ("campaigns",), J, "Лид-магниты и кампании", ()),
    ("outbound_channel", ("outbound_channel",), C, "Канал для новых лидов (amoCRM); auto — настроенный WhatsApp",
     ("auto", "sandbox", "chatflow", "whatsapp_cloud", "telegram", "wwebjs")),
    ("chatflow_api_url", ("channels", "chatflow", "api_url"), S, "ChatFlow: api_url", ()),
    ("chatflow_token", ("channels", "chatflow", "token"), P, "ChatFlow: token", ()),
    ("chatflow_instance_id", ("channels", "chatflow", "instance_id"), S, "ChatFlow: instance_id", ()),
    ("wa_api_url", ("channels", "whatsapp_cloud", "api_url"), S, "WhatsApp Cloud: api_url", ()),
    ("wa_phone_number_id", ("channels", "whatsapp_cloud", "phone_number_id"), S, "WhatsApp Cloud: phone_number_id", ()),
    ("wa_access_token", ("channels", "whatsapp_cloud", "access_token"), P, "WhatsApp Cloud: access_token", ()),
    ("wa_app_secret", ("channels", "whatsapp_cloud", "app_secret"), P, "WhatsApp Cloud: app_secret", ()),
    ("wa_verify_token", ("channels", "whatsapp_cloud", "verify_token"), P, "WhatsApp Cloud: verify_token", ()),
    ("wa_followup_template", ("channels", "whatsapp_cloud", "followup_template"), S,
     "WhatsApp Cloud: одобренный шаблон для дожимов вне 24 ч", ()),
    ("wa_greeting_template", ("channels", "whatsapp_cloud", "greeting_template", "name"), S,
     "WhatsApp Cloud: одобренный шаблон первого сообщения лиду из amoCRM", ()),
    ("wa_greeting_language", ("channels", "whatsapp_cloud", "greeting_template", "language"), S,
     "WhatsApp Cloud: язык шаблона первого сообщения (напр. ru)", ()),
    ("tg_api_url", ("channels", "telegram", "api_url"), S, "Telegram: api_url", ()),
    ("tg_bot_token", ("channels", "telegram", "bot_token"), P, "Telegram: bot_token", ()),
    ("tg_secret_token", ("channels", "telegram", "secret_token"), P, "Telegram: secret_token", ()),
    ("ig_api_url", ("channels", "instagram", "api_url"), S, "Instagram: api_url", ()),
    ("ig_account_id", ("channels", "instagram", "ig_account_id"), S, "Instagram: ig_account_id", ()),
    ("ig_page_access_token", ("channels", "instagram", "page_access_token"), P, "Instagram: page_access_token", ()),
    ("ig_app_secret", ("channels", "instagram", "app_secret"), P, "Instagram: app_secret", ()),
    ("ig_verify_token", ("channels", "instagram", "verify_token"), P, "Instagram: verify_token", ()),
    ("wwebjs_bridge_url", ("channels", "wwebjs", "bridge_url"), S, "WhatsApp Web (мост): bridge_url", ()),
    ("wwebjs_session", ("channels", "wwebjs", "session"), S, "WhatsApp Web (мост): session (slug тенанта)", ()),
    ("wwebjs_secret", ("channels", "wwebjs", "secret"), P,
     "WhatsApp Web (мост): secret = HMAC-SHA256(BRIDGE_SECRET, session) hex", ()),
    ("retell_enabled", ("voice_calls", "retell", "enabled"), B, "Retell: AI-звонки лидам, которые просят звонок", ()),
    ("retell_api_url", ("voice_calls", "retell", "api_url"), S, "Retell: api_url", ()),
    ("retell_api_key", ("voice_calls", "retell", "api_key"), P, "Retell: API key (с отметкой webhook)", ()),
    ("retell_agent_id", ("voice_calls", "retell", "agent_id"), S, "Retell: agent_id", ()),
    ("retell_from_number", ("voice_calls", "retell", "from_number"), S, "Retell: from_number (+7…)", ()),
    ("amo_base_url", ("amocrm", "base_url"), S, "amoCRM: base_url", ()),
    ("amo_account_id", ("amocrm", "account_id"), N, "amoCRM: account_id", ()),
    ("amo_access_token", ("amocrm", "access_token"), P, "amoCRM: access_token", ()),
    ("amo_refresh_token", ("amocrm", "refresh_token"), P, "amoCRM: refresh_token", ()),
    ("amo_client_id", ("amocrm", "client_id"), S, "amoCRM: client_id", ()),
    ("amo_client_secret", ("amocrm", "client_secret"), P, "amoCRM: client_secret", ()),
    ("amo_redirect_uri", ("amocrm", "redirect_uri"), S, "amoCRM: redirect_uri", ()),
    ("amo_info_field", ("amocrm", "info_field"), S, "amoCRM: поле с информацией о лиде", ()),
    ("amo_stage_map", ("amocrm", "stage_map"), J, "amoCRM: этапы → status_id", ()),
    ("amo_responsible_map", ("amocrm", "responsible_map"), J, "amoCRM: email → ответственный", ()),
    ("gc_api_url", ("google_calendar", "api_url"), S, "Google Calendar: api_url", ()),
    ("gc_token_uri", ("google_calendar", "token_uri"), S, "Google: token_uri", ()),
    ("gc_auth_uri", ("google_calendar", "auth_uri"), S, "Google: authorize URL", ()),
    ("gc_calendar_id", ("google_calendar", "calendar_id"), S, "Google Calendar: calendar_id", ()),
    ("gc_client_id", ("google_calendar", "client_id"), S, "Google: client_id", ()),
    ("gc_client_secret", ("google_calendar", "client_secret"), P, "Google: client_secret", ()),
    ("gc_refresh_token", ("google_calendar", "refresh_token"), P, "Google: refresh_token", ()),
    ("gc_meeting_minutes", ("google_calendar", "meeting_minutes"), N, "Встреча, минут", ()),
    ("gc_work_start", ("google_calendar", "working_hours", "start"), S, "Рабочие часы: начало", ()),
    ("gc_work_end", ("google_calendar", "working_hours", "end"), S, "Рабочие часы: конец", ()),
]
FIELD_BY_PATH = {path: name for name, path, *_ in CONFIG_FIELDS}
CONFIG_PATHS = {name: path for name, path, *_ in CONFIG_FIELDS}

# Issue 14: which AI settings each brain reads (shown under the fields and above the AI group), so an admin knows
# what changes the built-in offline brain and what only the LLM (provider openai) sees.
OFFLINE_AND_LLM = "Читают оба мозга: встроенный офлайн и LLM."
LLM_ONLY = "Только для LLM (мозг openai); встроенный офлайн-мозг это поле не читает."
AI_FIELD_USE = {
    "ai_enabled": OFFLINE_AND_LLM, "ai_provider": "offline — встроенный мозг без ключа; openai — LLM (при сбое "
                                                  "отвечает офлайн-мозг).",
    "ai_model": LLM_ONLY, "ai_base_url": LLM_ONLY, "ai_api_key": LLM_ONLY,
    "ai_prompt": LLM_ONLY + " Факты для офлайн-мозга — в «фактах» и в базе знаний (PWA → «База знаний»).",
    "ai_offer": OFFLINE_AND_LLM + " Офлайн-мозг вставляет его в первое сообщение.",
    "ai_facts": OFFLINE_AND_LLM + " Офлайн-мозг цитирует факт по ключевым словам; LLM получает все факты в промпте.",
    "ai_debounce_seconds": OFFLINE_AND_LLM, "ai_persona_name": OFFLINE_AND_LLM, "ai_persona_gender": OFFLINE_AND_LLM,
}
AI_GROUP_NOTE = (
    "Офлайн-мозг (по умолчанию, без API-ключа) читает: AI включён, факты, предложение, имя и род персоны, поля "
    "квалификации, первый контакт, шаги дожимов, базу знаний и библиотеку контента (PWA), Google Calendar. "
    "Только LLM читает: модель, base_url, API key и промпт компании; база знаний попадает в промпт LLM "
    "релевантными записями, библиотека контента — списком (id, название, тип)."
)


def _dash(value) -> object:
    """An empty value as a dash: format_html would print None as "None" (issue 16)."""
    return "—" if value is None or value == "" else value


def _get(doc: dict, path: tuple[str, ...]):
    for key in path:
        if not isinstance(doc, dict) or key not in doc:
            return None
        doc = doc[key]
    return doc


def _set(doc: dict, path: tuple[str, ...], value) -> None:
    for key in path[:-1]:
        doc = doc.setdefault(key, {})
    doc[path[-1]] = value


def _form_field(name: str, kind: str, label: str, choices: tuple) -> forms.Field:
    if kind == J and name in EDITORS:
        return StructuredField(EDITORS[name], label=label)
    if kind == B:
        return forms.BooleanField(label=label, required=False)
    if kind == C:
        return forms.ChoiceField(label=label, choices=[(c, c) for c in choices], required=False)
    if kind == N:
        return forms.FloatField(label=label, required=False)
    if kind in (J, T):
        return forms.CharField(label=label, required=False, widget=forms.Textarea(attrs={"rows": 4, "cols": 100}))
    if kind == P:
        # A failed save shows again what was typed (only bound data: a stored secret is never an initial value).
        return forms.CharField(label=label, required=False, widget=forms.PasswordInput(render_value=True),
                               help_text="Хранится зашифрованным. Пусто — оставить как есть.")
    return forms.CharField(label=label, required=False)


class TenantCreateForm(forms.ModelForm):
    owner_email = forms.EmailField(label="Email владельца")
    owner_password = forms.CharField(label="Пароль владельца", widget=forms.PasswordInput)
    timezone = forms.CharField(label="Часовой пояс", initial="Asia/Almaty")
    preset = forms.ChoiceField(label="Пресет квалификации", choices=[("construction", "construction"),
                                                                    ("generic_b2b", "generic_b2b")])

    class Meta:
        model = Tenant
        fields = ["slug", "name"]


class TenantConfigForm(forms.ModelForm):
    class Meta:
        model = Tenant
        fields = ["name", "is_active"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        current = tenant_config_get(self.instance) if self.instance.pk else {}
        for name, path, kind, _label, _choices in CONFIG_FIELDS:
            field = self.fields.get(name)
            if field is None:
                continue
            value = _get(current, path)
            if kind == J and name in EDITORS:
                field.initial = value
            elif kind == J:
                field.initial = json.dumps(value if value is not None else [], ensure_ascii=False, indent=1)
            elif kind == P:
                field.help_text = ("Задан. " if value else "Не задан. ") + field.help_text
            else:
                field.initial = value

    def clean(self):
        cleaned = super().clean()
        document: dict = {}
        for name, path, kind, _label, _choices in CONFIG_FIELDS:
            value = cleaned.get(name)
            if kind == J and name in EDITORS:
                if name not in cleaned:
                    continue  # its cells did not parse: the errors are on them
            elif kind == J:
                try:
                    value = json.loads(value) if value else ([] if path[-1] not in ("stage_map", "responsible_map",
                                                                                      "reengagement") else {})
                except json.JSONDecodeError as exc:
                    self.add_error(name, message(f"invalid JSON: {exc}"))
                    continue
            elif kind == P:
                if not value:
                    continue  # keep the stored secret
            elif kind == N:
                if value is None:
                    continue
                value = int(value) if float(value).is_integer() else value
            elif value in (None, "") and path[0] in ("amocrm", "google_calendar", "channels"):
                continue  # an integration left empty stays unconfigured
            _set(document, path, value)
        if self.errors:
            return cleaned
        try:
            self.config_document = tconfig.validate(document)
        except tconfig.ConfigError as exc:
            path = tuple(exc.key.split("[")[0].split("."))
            target = next((FIELD_BY_PATH[path[:i]] for i in range(len(path), 0, -1) if path[:i] in FIELD_BY_PATH),
                          None)
            text = message(exc.message)
            widget = self.fields[target].widget if target else None
            if isinstance(widget, RowsWidget):
                # the error in the cell it names, and on the setting a pointer to it
                rest = exc.key[len(".".join(CONFIG_PATHS[target])):]
                if place_error(EDITORS[target], widget, rest, text):
                    raise ValidationError({target: f"{exc.key}: {text}"}) from None
            raise ValidationError({target: f"{exc.key}: {text}"} if target else f"{exc.key}: {text}") from None
        return cleaned


# Declared on the class (not added per instance) so the admin's form factory accepts them in fieldsets.
for _name, _path, _kind, _label, _choices in CONFIG_FIELDS:
    TenantConfigForm.base_fields[_name] = TenantConfigForm.declared_fields[_name] = _form_field(_name, _kind, _label,
                                                                                               _choices)
    if _name in AI_FIELD_USE:
        _field = TenantConfigForm.base_fields[_name]
        _field.help_text = " ".join(x for x in (AI_FIELD_USE[_name], _field.help_text) if x)


class DomainInline(admin.TabularInline):
    model = Domain
    extra = 0


@admin.register(Tenant)
class TenantAdmin(admin.ModelAdmin):
    list_display = ["slug", "name", "is_active", "status", "last_inbound", "last_send_ok", "last_error_short",
                    "pending"]
    list_filter = ["status"]
    search_fields = ["slug", "name"]
    readonly_fields = ["slug", "schema_name", "webhook_urls", "health_report", "calendar_connect",
                       "whatsapp_web", "created_at", "status", "suspended_at", "delete_after"]
    actions = ["suspend_tenants", "resume_tenants", "delete_tenants"]
    inlines = [DomainInline]

    def get_queryset(self, request):
        return super().get_queryset(request).filter(is_template=False).exclude(schema_name="public") \
            .select_related("health")

    def get_form(self, request, obj=None, **kwargs):
        kwargs["form"] = TenantConfigForm if obj else TenantCreateForm
        return super().get_form(request, obj, **kwargs)

    def get_fieldsets(self, request, obj=None):
        if obj is None:
            return [(None, {"fields": ["slug", "name", "owner_email", "owner_password", "timezone", "preset"]})]
        groups: dict[str, list[str]] = {}
        for name, path, *_ in CONFIG_FIELDS:
            groups.setdefault(path[0] if path[0] not in ("timezone", "language", "company", "leads") else "general",
                              []).append(name)
        return [
            (None, {"fields": ["name", "slug", "is_active", "schema_name", "webhook_urls",
                               "created_at"]}),
            ("Статус / Status", {"fields": ["status", "suspended_at", "delete_after"]}),
            ("Здоровье", {"fields": ["health_report"]}),
            ("Google Calendar", {"fields": ["calendar_connect"]}),
            ("WhatsApp Web", {"fields": ["whatsapp_web"]}),
        ] + [(title, {"fields": fields, "classes": ["collapse"] if title in ("amocrm", "google_calendar") else [],
                      **({"description": AI_GROUP_NOTE} if title == "ai" else {})})
             for title, fields in groups.items()]

    @admin.action(description="Приостановить (вебхуки 503, пользователи видят страницу) / Suspend")
    def suspend_tenants(self, request, queryset):
        for tenant in queryset:
            tenant_suspend(tenant=tenant, by=request.user.email)
        messages.success(request, f"Приостановлено: {', '.join(t.slug for t in queryset)}")

    @admin.action(description="Возобновить (и отменить удаление) / Resume")
    def resume_tenants(self, request, queryset):
        for tenant in queryset:
            tenant_resume(tenant=tenant, by=request.user.email)
        messages.success(request, f"Возобновлено: {', '.join(t.slug for t in queryset)}")

    @admin.action(description=f"Удалить после {settings.TENANT_DELETE_GRACE_DAYS:g} дн. (сразу приостановить) / "
                              "Delete after the grace period")
    def delete_tenants(self, request, queryset):
        marked = [tenant_delete_mark(tenant=tenant, by=request.user.email) for tenant in queryset]
        messages.warning(request, "Будут удалены (схема и файлы): " + ", ".join(
            f"{t.slug} после {t.delete_after:%Y-%m-%d %H:%M} UTC" for t in marked))

    def get_readonly_fields(self, request, obj=None):
        return self.readonly_fields if obj else []

    def get_inlines(self, request, obj):
        return self.inlines if obj else []

    def save_model(self, request, obj, form, change):
        if not change:
            try:
                result = tenant_provision(
                    slug=form.cleaned_data["slug"], name=form.cleaned_data["name"],
                    owner_email=form.cleaned_data["owner_email"], owner_password=form.cleaned_data["owner_password"],
                    timezone_name=form.cleaned_data["timezone"], preset=form.cleaned_data["preset"],
                )
            except (ProvisioningError, tconfig.ConfigError) as exc:
                raise ValidationError(str(exc)) from None
            obj.pk = result.tenant.pk
            obj.refresh_from_db()
            messages.success(request, f"Клиент создан: http://{result.domain}:{settings.PORT}/")
            return
        obj.save(update_fields=["name", "is_active"])
        tenant_config_import(obj, form.config_document)

    def add_view(self, request, form_url="", extra_context=None):
        try:
            return super().add_view(request, form_url, extra_context)
        except ValidationError as exc:
            messages.error(request, " ".join(exc.messages))
            return super().add_view(request, form_url, extra_context)

    @admin.display(description="Подключение календаря")
    def calendar_connect(self, obj):
        from tenants.oauth import calendar_connect_html

        return calendar_connect_html(obj)

    @admin.display(description="Webhooks")
    def webhook_urls(self, obj):
        """Each provider's URL (its own token), whether it opens, and a link to rotate its token."""
        tokens, base = webhook_tokens(obj), webhook_base_url()
        rows = []
        for provider in WEBHOOK_PROVIDERS:
            token = tokens.get(provider)
            if token is None:  # a provider added after the tenant was made (Instagram): its URL is made here
                create = reverse("admin:tenants_tenant_rotate_webhook", args=[obj.pk, provider])
                rows.append(format_html('<tr><th>{}</th><td>URL ещё нет <a class="button" href="{}">Создать URL</a>'
                                        '</td></tr>', provider, create))
                continue
            state = ("настроен" if webhook_provider_configured(config=obj.config or {}, provider=provider)
                     else "не настроен — URL отвечает 404")
            if token.legacy:
                state += "; старый общий ключ — смените токен и перерегистрируйте URL"
            rotate = reverse("admin:tenants_tenant_rotate_webhook", args=[obj.pk, provider])
            rows.append(format_html('<tr><th>{}</th><td><code>{}/webhooks/{}/{}/</code><br>{} '
                                    '<a class="button" href="{}">Сменить токен</a></td></tr>',
                                    provider, base, provider, token.token, state, rotate))
        return format_html("<table>{}</table>", format_html("".join(rows))) if rows else "—"

    def get_urls(self):
        own = [url_path("<int:tenant_id>/webhook-token/<str:provider>/rotate/",
                    self.admin_site.admin_view(self.rotate_webhook_token), name="tenants_tenant_rotate_webhook"),
               url_path("<int:tenant_id>/wwebjs/state/", self.admin_site.admin_view(self.wwebjs_state),
                        name="tenants_tenant_wwebjs_state"),
               url_path("<int:tenant_id>/wwebjs/<str:action>/", self.admin_site.admin_view(self.wwebjs_action),
                        name="tenants_tenant_wwebjs_action")]
        return own + super().get_urls()

    def rotate_webhook_token(self, request, tenant_id: int, provider: str):
        """GET: asks to confirm; POST: the provider's URL gets a new token (the old one answers 404 at once)."""
        tenant = self.get_queryset(request).filter(pk=tenant_id).first()
        if tenant is None or provider not in WEBHOOK_PROVIDERS:
            raise Http404("no such tenant or provider")
        page = reverse("admin:tenants_tenant_change", args=[tenant.pk])
        if request.method == "POST":
            webhook_token_rotate(tenant=tenant, provider=provider, by=request.user.email)
            messages.success(request, f"{provider}: новый URL — {webhook_urls(tenant)[provider]} . "
                                      "Старый больше не принимается: зарегистрируйте новый у провайдера.")
            return HttpResponseRedirect(page)
        return TemplateResponse(request, "admin/tenants/tenant/rotate_webhook_token.html", {
            **self.admin_site.each_context(request), "title": f"Сменить токен вебхука {provider}",
            "tenant": tenant, "provider": provider, "current": webhook_urls(tenant).get(provider, ""),
            "back": page, "opts": self.model._meta,
        })

    @admin.display(description="WhatsApp Web (мост)")
    def whatsapp_web(self, obj):
        """The session's state and pairing QR, refreshed live by polling the staff-only state endpoint."""
        if not obj or not obj.pk:
            return "—"
        state_url = reverse("admin:tenants_tenant_wwebjs_state", args=[obj.pk])
        start = reverse("admin:tenants_tenant_wwebjs_action", args=[obj.pk, "start"])
        logout = reverse("admin:tenants_tenant_wwebjs_action", args=[obj.pk, "logout"])
        labels = json.dumps(WWEBJS_STATES, ensure_ascii=False)
        return format_html(
            '<div id="wwebjs-session" data-state-url="{}">'
            '<p>Состояние / state: <strong id="wwebjs-state">…</strong> <span id="wwebjs-detail"></span></p>'
            '<img id="wwebjs-qr" alt="QR WhatsApp Web" width="264" height="264" hidden '
            'style="image-rendering:pixelated;background:#fff;max-width:100%;height:auto">'
            '<p>Отсканируйте QR в WhatsApp → Связанные устройства / Scan in WhatsApp → Linked devices.</p>'
            '<button type="submit" form="wwebjs-start" class="button">Запустить сессию / Start</button> '
            '<button type="submit" form="wwebjs-logout" class="button">Выйти / Log out</button></div>'
            '<script>(function(){{var box=document.getElementById("wwebjs-session"),L={};'
            'function show(d){{document.getElementById("wwebjs-state").textContent=L[d.state]||d.state;'
            'document.getElementById("wwebjs-detail").textContent=d.detail||"";'
            'var img=document.getElementById("wwebjs-qr");if(d.qr){{img.src=d.qr;img.hidden=false;}}'
            'else{{img.hidden=true;img.removeAttribute("src");}}}}'
            'function poll(){{fetch(box.dataset.stateUrl,{{credentials:"same-origin"}}).then(function(r){{'
            'return r.json();}}).then(show).catch(function(){{}}).finally(function(){{setTimeout(poll,3000);}});}}'
            'poll();}})();</script>',
            state_url, mark_safe(labels),  # noqa: S308 (our constant labels)
        ) + format_html(
            # The forms live outside the change form (forms cannot nest): the buttons point at them by id.
            '<template id="wwebjs-forms"></template><script>(function(){{var csrf=(document.querySelector('
            '"[name=csrfmiddlewaretoken]")||{{}}).value||"";[["wwebjs-start","{}"],["wwebjs-logout","{}"]].forEach('
            'function(p){{var f=document.createElement("form");f.id=p[0];f.method="post";f.action=p[1];'
            'var i=document.createElement("input");i.type="hidden";i.name="csrfmiddlewaretoken";i.value=csrf;'
            'f.appendChild(i);document.body.appendChild(f);}});}})();</script>',
            start, logout,
        )

    def _tenant_or_404(self, request, tenant_id: int) -> Tenant:
        tenant = self.get_queryset(request).filter(pk=tenant_id).first()
        if tenant is None:
            raise Http404("no such tenant")
        return tenant

    def wwebjs_state(self, request, tenant_id: int):
        """GET: the session's state and QR from the bridge (the admin page polls it)."""
        tenant = self._tenant_or_404(request, tenant_id)
        response = JsonResponse(wwebjs_session_state(tenant))
        response["Cache-Control"] = "no-store"
        return response

    def wwebjs_action(self, request, tenant_id: int, action: str):
        """POST start | logout: the bridge opens or ends the tenant's WhatsApp Web session."""
        tenant = self._tenant_or_404(request, tenant_id)
        if action not in ("start", "logout"):
            raise Http404("no such action")
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        answer = wwebjs_session_call(tenant=tenant, action=action, by=request.user.email)
        if answer["state"] == "unreachable":
            messages.error(request, f"WhatsApp Web: мост недоступен / bridge unreachable: {answer.get('detail', '')}")
        else:
            messages.success(request, f"WhatsApp Web: {WWEBJS_STATES.get(answer['state'], answer['state'])}")
        return HttpResponseRedirect(reverse("admin:tenants_tenant_change", args=[tenant.pk]))

    def _health(self, obj) -> TenantHealth | None:
        return getattr(obj, "health", None)

    @admin.display(description="Последний вебхук")
    def last_inbound(self, obj):
        h = self._health(obj)
        return h.last_inbound_at if h else None

    @admin.display(description="Последняя отправка")
    def last_send_ok(self, obj):
        h = self._health(obj)
        return h.last_send_ok_at if h else None

    @admin.display(description="Последняя ошибка")
    def last_error_short(self, obj):
        h = self._health(obj)
        return (h.last_error[:80] + ("…" if len(h.last_error) > 80 else "")) if h and h.last_error else "—"

    @admin.display(description="В работе")
    def pending(self, obj):
        work = tenant_pending_work(obj)
        text = f"{work['queued_messages']} сообщ. / {work['pending_followups']} дожимов"
        return text + (f" / {work['inbound_set_aside']} входящих отложено" if work["inbound_set_aside"] else "")

    @admin.display(description="Состояние")
    def health_report(self, obj):
        h = self._health(obj)
        work = tenant_pending_work(obj)
        rows = [
            ("Последний входящий вебхук",
             f"{_dash(h.last_inbound_at)} {h.last_inbound_provider}".strip() if h else "—"),
            ("Последняя успешная отправка", _dash(h.last_send_ok_at) if h else "—"),
            ("Последняя ошибка", f"{h.last_error_at} [{h.last_error_source}] {h.last_error}" if h and h.last_error
             else "—"),
            ("Сообщений в очереди", work["queued_messages"]),
            ("Сообщений с ошибкой", work["failed_messages"]),
            ("Входящих ждут обработки", work["inbound_pending"]),
            ("Входящих отложено после ошибок", work["inbound_set_aside"]),
            ("Дожимов ожидает", work["pending_followups"]),
        ]
        return format_html("<table>{}</table>", format_html("".join(
            format_html("<tr><th>{}</th><td>{}</td></tr>", k, v) for k, v in rows)))
