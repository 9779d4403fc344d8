"""Qualification presets of the contract (section 3).

A preset is a list of field dicts; tenants start from one and may edit or add fields. The AI asks only
for `required` fields before moving on to selling, so required = "we cannot quote or route without it".
The construction preset requires all six (seed 002): "Полные данные" means city, the size with its height,
the foundation, windows, doors and whether a project exists are all known.
"""

from __future__ import annotations

import copy
from typing import Any

URGENCY_CHOICES = ["now", "month", "quarter", "later"]

PRESETS: dict[str, list[dict[str, Any]]] = {
    "generic_b2b": [
        {
            "key": "company_size",
            "label": "Размер компании (сотрудников)",
            "label_en": "Company size (employees)",
            "type": "number",
            "required": True,
            "hint": "Сколько человек в компании / команде",
        },
        {
            "key": "budget",
            "label": "Бюджет",
            "label_en": "Budget",
            "type": "number",
            "required": False,
            "hint": "Ориентировочный бюджет в валюте компании",
        },
        {
            "key": "needs",
            "label": "Потребность",
            "label_en": "Needs",
            "type": "text",
            "required": True,
            "hint": "Какую задачу клиент хочет решить",
        },
        {
            "key": "urgency",
            "label": "Срочность",
            "label_en": "Urgency",
            "type": "choice",
            "required": True,
            "hint": "Когда нужно решение: сейчас, в течение месяца, квартала или позже",
            "choices": list(URGENCY_CHOICES),
        },
        {
            "key": "has_crm",
            "label": "Есть CRM",
            "label_en": "Has a CRM",
            "type": "boolean",
            "required": False,
            "hint": "Пользуются ли сейчас CRM-системой",
        },
    ],
    "construction": [
        {
            "key": "city",
            "label": "Город",
            "label_en": "City",
            "type": "text",
            "required": True,
            "hint": "Город или населённый пункт строительства",
        },
        {
            "key": "dimensions",
            "label": "Размеры дома",
            "label_en": "House dimensions",
            "type": "dimensions",
            "required": True,
            "hint": "Длина, ширина и высота в метрах",
        },
        {
            "key": "foundation_closed",
            "label": "Закрывать фундамент",
            "label_en": "Close the foundation",
            "type": "boolean",
            "required": True,
            "hint": "Будет ли клиент закрывать фундамент",
        },
        {
            "key": "windows",
            "label": "Окна",
            "label_en": "Windows",
            "type": "number",
            "required": True,
            "hint": "Количество окон",
        },
        {
            "key": "doors",
            "label": "Двери",
            "label_en": "Doors",
            "type": "number",
            "required": True,
            "hint": "Количество дверей",
        },
        {
            "key": "has_project",
            "label": "Есть проект",
            "label_en": "Has a project",
            "type": "boolean",
            "required": True,
            "hint": "Есть ли проект или фото (да/нет)",
        },
    ],
}


def get_preset(name: str) -> list[dict[str, Any]]:
    """A deep copy, so callers can edit a tenant's fields without touching the module constant."""
    return copy.deepcopy(PRESETS[name])
