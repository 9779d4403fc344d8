"""Issue 14: the LLM gets the same conversation rules, the relevant knowledge, the content library and the persona."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal

from brain import prompts
from brain.knowledge import QA, Knowledge, PersonaSpec, PriceItem
from tenants.presets import get_preset
from tests.brain.kb_fixture import AIGERIM, CONTENT, KB


@dataclass
class Lead:
    name: str = ""
    city: str = "Павлодар"
    channel: str = "telegram"
    source_info: str = ""
    call_requested: bool = False
    preferred_time: str = ""
    ai_state: dict = field(default_factory=dict)
    data: dict = field(default_factory=dict)


@dataclass
class Msg:
    direction: str
    text: str
    author_kind: str = ""
    kind: str = "text"
    caption: str = ""
    media_url: str = ""


def build(window: list[Msg], **kw) -> str:
    system, _ = prompts.dialog_prompt(
        cfg={"company": "ПанельСтрой", "timezone": "Asia/Almaty"},
        lead=Lead(),
        stage_kind="in_dialog",
        fields=get_preset("construction"),
        window=window,
        summary="",
        now=datetime(2026, 11, 30, tzinfo=UTC),
        **kw,
    )
    return system


def test_the_conversation_rules_are_in_the_prompt() -> None:
    system = build([Msg("in", "Привет")])
    for rule in (
        "Answer first",
        "at most ONE next step",
        "Never repeat yourself",
        "Respect the client's pace",
        "Kazakh",
        "I'll think",
        "send_content",
    ):
        assert rule in system, rule


def test_persona_knowledge_and_library_are_listed() -> None:
    system = build([Msg("in", "Доставка в Павлодар есть? Какие окна?")], knowledge=KB, content=CONTENT, persona=AIGERIM)
    assert "Your name is Айгерим" in system and "female" in system
    assert "двухкамерным стеклопакетом" in system
    assert "Delivery for the client's city (Павлодар): В другие города доставляем" in system
    assert "от 180 000 до 220 000 ₸ за м²" in system
    assert "id 11: Фото готовых домов" in system and "id 13: Photos of finished houses — album (en)" in system


def test_a_200_entry_knowledge_base_stays_bounded_and_puts_the_match_first() -> None:
    qas = tuple(QA(f"Вопрос {i}", f"Ответ номер {i}.", (f"тема{i}",)) for i in range(150))
    qas += (QA("Баня", "Баню строим из тех же панелей.", ("баня", "баню")),)
    prices = tuple(PriceItem(f"Позиция {i}", "шт", Decimal(i + 1)) for i in range(49))
    kb = Knowledge(qas=qas, prices=prices)
    system = build([Msg("in", "А баню делаете?")], knowledge=kb)
    assert "Баню строим из тех же панелей." in system
    block = system.split("The company's knowledge")[1].split("\n\n")[0]
    assert len(block) <= prompts.KNOWLEDGE_CHARS + 100


def test_without_knowledge_nothing_is_added() -> None:
    system = build([Msg("in", "Привет")], persona=PersonaSpec())
    assert "The company's knowledge" not in system and "Content library" not in system
    assert "Your name is" not in system
