"""Issue 14: a follow-up goes out in the client's language (brain.texts), offline."""

from __future__ import annotations

import re

from brain.texts import TemplateValues, followup_offline

RU = "Подскажите, вопрос по дому ещё актуален?"


def test_english_client_never_gets_a_russian_template() -> None:
    for variant in range(6):
        text = followup_offline(RU, TemplateValues(name="John", company="PanelBuild", language="en"), variant=variant)
        assert not re.search(r"[а-яё]", text.lower()), text
        assert "John" in text


def test_the_steps_english_variant_wins_for_an_english_client() -> None:
    values = TemplateValues(name="Anna", language="en")
    assert followup_offline(RU, values, variant=0, template_en="Anna, still interested?") == "Anna, still interested?"


def test_russian_and_kazakh_clients_get_the_template() -> None:
    for lang in ("ru", "kk"):
        text = followup_offline(RU, TemplateValues(name="Марат", language=lang), variant=0, template_en="Still there?")
        assert "актуален" in text


def test_an_english_template_is_kept_for_an_english_client() -> None:
    text = followup_offline("Any news about the house?", TemplateValues(language="en"), variant=0)
    assert text.endswith("Any news about the house?")


def test_consecutive_english_touches_differ() -> None:
    values = TemplateValues(name="", language="en")
    assert len({followup_offline(RU, values, variant=v) for v in range(4)}) == 4
