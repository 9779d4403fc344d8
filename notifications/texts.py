"""What each notification says, in the tenant's language (the push and the Telegram message carry the words)."""

from notifications.models import Kind

TITLES = {
    "ru": {
        Kind.NEW_LEAD: "Новый лид",
        Kind.CLIENT_REPLIED: "Клиент ответил",
        Kind.CALL_REQUESTED: "Клиент просит звонок",
        Kind.BECAME_HOT: "Лид стал горячим",
        Kind.NEEDS_HUMAN: "AI просит подключиться",
        Kind.MESSAGE_FAILED: "Сообщение не доставлено",
        Kind.ASSIGNED: "Лид назначен на вас",
        Kind.TASK_DUE: "Пора выполнить задачу",
    },
    "en": {
        Kind.NEW_LEAD: "New lead",
        Kind.CLIENT_REPLIED: "The client replied",
        Kind.CALL_REQUESTED: "The client asks for a call",
        Kind.BECAME_HOT: "The lead became hot",
        Kind.NEEDS_HUMAN: "The AI asks for a person",
        Kind.MESSAGE_FAILED: "A message failed",
        Kind.ASSIGNED: "A lead was assigned to you",
        Kind.TASK_DUE: "A task is due",
    },
}

TELEGRAM_LINKED = {
    "ru": "Готово: уведомления BuildCRM будут приходить сюда.",
    "en": "Done: BuildCRM notifications will come here.",
}
TELEGRAM_CODE_BAD = {
    "ru": "Код не подошёл или истёк. Получите новый в BuildCRM → Аккаунт.",
    "en": "The code is wrong or expired. Get a new one in BuildCRM → Account.",
}


def title_of(kind: str, language: str) -> str:
    return TITLES.get(language, TITLES["ru"]).get(kind, kind)


def held_title(count: int, language: str) -> str:
    """The digest of what quiet hours held."""
    if language == "en":
        return f"{count} notifications during quiet hours"
    return f"Уведомлений за тихие часы: {count}"
