"""Rule-based understanding of one client message (Russian first, English too).

Pipeline: normalise (lower-case, ё→е, mask times/e-mails/phones so their digits never count as
quantities) → tokenise with original offsets (quotes stay in the client's own words) → merge number
words and thousand groups into number tokens → split into clauses (negation scope) → per-type
extractors driven by the field type plus keywords (built-in knowledge for preset keys, words of
label/hint/key for tenant fields) → gazetteer for cities → names → intents → preferred time.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass, field
from datetime import timedelta
from functools import lru_cache
from typing import Any

INTENTS = ("greeting", "call_request", "price_question", "refusal", "human_request", "thinking")
TIME_CHARS = 100  # a preferred time, as long as the lead card keeps it (aiagent.tools request_call)
TEXT_VALUE_CHARS = 500  # a free-text field value, as long as update_lead keeps it
NAME_WORD_CHARS = 40  # a longer "word" is no name or city (a bare answer of a million letters is not echoed)


class BrainTimeout(Exception):
    """The turn's time budget ran out while the brain was reading (raised between stages, never mid-pattern)."""


def check_deadline(deadline: float | None) -> None:
    """Raises BrainTimeout once time.monotonic() is past `deadline` (None: no budget)."""
    if deadline is not None and time.monotonic() > deadline:
        raise BrainTimeout


# ---------------------------------------------------------------------------------------------------------
# Tokenisation


@dataclass(slots=True)  # a 1 MiB text is a million of them
class Token:
    text: str  # normalised (lower-case) text
    kind: str  # num | word | punct
    start: int  # offsets into the original message
    end: int
    value: float | None = None
    used: bool = False  # consumed by an extractor (a number already attributed)


_TOKEN_RE = re.compile(r"\d+(?:[.,]\d+)?|[a-zа-я]+(?:['’-][a-zа-я]+)*|@+|[^\sa-zа-я\d]")
# Dashes and colons do not end a clause: «окна — 8 штук», «CRM есть — Битрикс», «размеры: 10x12».
_CLAUSE_BREAK = {",", ";", ".", "!", "?", "(", ")", "\n", "…"}
_CLAUSE_WORDS = {"но", "а", "but", "однако", "зато"}

_UNITS_RU = {
    "ноль": 0,
    "один": 1,
    "одна": 1,
    "одно": 1,
    "одного": 1,
    "одной": 1,
    "одну": 1,
    "одним": 1,
    "два": 2,
    "две": 2,
    "двух": 2,
    "двум": 2,
    "двумя": 2,
    "три": 3,
    "трех": 3,
    "трем": 3,
    "тремя": 3,
    "четыре": 4,
    "четырех": 4,
    "пять": 5,
    "пяти": 5,
    "шесть": 6,
    "шести": 6,
    "семь": 7,
    "семи": 7,
    "восемь": 8,
    "восьми": 8,
    "одиннадцати": 11,
    "двенадцати": 12,
    "пятнадцати": 15,
    "двадцатью": 20,
    "девять": 9,
    "девяти": 9,
    "десять": 10,
    "десяти": 10,
    "одиннадцать": 11,
    "двенадцать": 12,
    "тринадцать": 13,
    "четырнадцать": 14,
    "пятнадцать": 15,
    "шестнадцать": 16,
    "семнадцать": 17,
    "восемнадцать": 18,
    "девятнадцать": 19,
    "двое": 2,
    "трое": 3,
    "четверо": 4,
    "пятеро": 5,
    "шестеро": 6,
    "семеро": 7,
    "восьмеро": 8,
    "девятеро": 9,
    "десятеро": 10,
    "полтора": 1.5,
    "полторы": 1.5,
    "пара": 2,
    "пару": 2,
    "one": 1,
    "two": 2,
    "three": 3,
    "four": 4,
    "five": 5,
    "six": 6,
    "seven": 7,
    "eight": 8,
    "nine": 9,
    "ten": 10,
    "eleven": 11,
    "twelve": 12,
    "thirteen": 13,
    "fourteen": 14,
    "fifteen": 15,
    "sixteen": 16,
    "seventeen": 17,
    "eighteen": 18,
    "nineteen": 19,
    "dozen": 12,
    "couple": 2,
}
_TENS = {
    "двадцать": 20,
    "тридцать": 30,
    "сорок": 40,
    "пятьдесят": 50,
    "шестьдесят": 60,
    "семьдесят": 70,
    "восемьдесят": 80,
    "девяносто": 90,
    "двадцати": 20,
    "тридцати": 30,
    "сорока": 40,
    "пятидесяти": 50,
    "шестидесяти": 60,
    "семидесяти": 70,
    "восьмидесяти": 80,
    "девяноста": 90,
    "twenty": 20,
    "thirty": 30,
    "forty": 40,
    "fifty": 50,
    "sixty": 60,
    "seventy": 70,
    "eighty": 80,
    "ninety": 90,
}
_HUNDREDS = {
    "сто": 100,
    "двести": 200,
    "триста": 300,
    "четыреста": 400,
    "пятьсот": 500,
    "шестьсот": 600,
    "семьсот": 700,
    "восемьсот": 800,
    "девятьсот": 900,
    "hundred": 100,
    "ста": 100,
    "двухсот": 200,
    "трехсот": 300,
    "четырехсот": 400,
    "пятисот": 500,
}
_MULTIPLIERS = {
    "тыс": 1e3,
    "тысяча": 1e3,
    "тысячи": 1e3,
    "тысяч": 1e3,
    "тыщ": 1e3,
    "тыщи": 1e3,
    "k": 1e3,
    "к": 1e3,
    "thousand": 1e3,
    "млн": 1e6,
    "миллион": 1e6,
    "миллиона": 1e6,
    "миллионов": 1e6,
    "mln": 1e6,
    "million": 1e6,
    "millions": 1e6,
    "лям": 1e6,
    "ляма": 1e6,
    "лямов": 1e6,
    "m": 1e6,
    "млрд": 1e9,
    "миллиард": 1e9,
    "миллиарда": 1e9,
    "миллиардов": 1e9,
    "bn": 1e9,
    "billion": 1e9,
}
_CURRENCY_WORDS = re.compile(r"^(тенге|тг|руб\w*|р|usd|долл\w*|dollars?|бакс\w*|евро|eur|euro|kzt|rub|rur|сом)$")
_CURRENCY_SIGNS = {"$", "€", "₸", "₽"}

_TIME_NUM_RE = re.compile(
    r"(?:(?:после|до|с|к|в|около|часам|after|before|at|around|from|by)\s+)?\d{1,2}:\d{2}"
    r"(?:\s*(?:-|–|до|to)\s*\d{1,2}(?::\d{2})?)?"
    r"|(?:после|до|с|к|в|около|after|before|at|around|from|by)\s+\d{1,2}\.\d{2}(?!\s*(?:м\b|m\b|метр))"
    r"|(?:после|до|с|к|в|около|after|before|at|around|from|by)\s+\d{1,2}"
    r"(?:\s*(?:-|–|до|to)\s*\d{1,2})?\s*(?:ч\b|час\w*|утра|вечера|дня|ночи|am\b|pm\b|a\.m\.|p\.m\.)"
    r"|(?:после|after)\s+\d{1,2}(?!\s*(?:[.,]\d|м\b|m\b|метр|человек|сотрудн|окон|окн|двер|млн|тыс|%))"
    r"|\b\d{1,2}\s*(?:am|pm)\b"
)
_TIME_DOT_RE = re.compile(r"\d{1,2}\.\d{2}")
# Every pattern here must stay linear on any input (tests/brain/test_hostile.py, tests/aiagent/test_hostile.py,
# bench/nlu_hostile.py): a pattern that opens with a repeated class starts only where that class's run starts (a
# lookbehind), or a 100 KB run of letters is rescanned from each of its positions.
_EMAIL_RE = re.compile(r"(?<![\w.+-])[\w.+-]++@[\w-]++(?:\.[\w-]++)+")
_PHONE_RE = re.compile(r"(?:\+7|\b8|\b7)[\s(-]*\d{3}[\s)-]*\d{3}[\s-]*\d{2}[\s-]*\d{2}\b")
_URL_RE = re.compile(r"https?://\S+|www\.\S+")


def _normalise(text: str) -> str:
    # Length-preserving: every offset in the result is an offset in the original text.
    low = text.lower().replace("ё", "е").replace("×", "x")
    if len(low) != len(text):  # exotic case folding changed lengths; fall back to a per-char map
        low = "".join(ch.lower()[:1] or ch for ch in text).replace("ё", "е").replace("×", "x")
    return low


# A correction «не 10, а 12» / «10, нет, 12» / «not 10 but 12»: the replaced number and the words around it are
# masked so only the new one is read. Bounded runs, no nested repetition: linear.
_CORRECTED_RE = re.compile(
    r"(?<![\w-])(?P<neg>(?:не|not)\s{1,3}\d{1,6}(?:[.,]\d{1,3})?)(?P<mid2>\s{1,3}[a-zа-я]{1,20})?"
    r"(?P<cut2>\s{0,3}[,;]?\s{0,3}(?:а|but|but rather)\s{1,3})(?=\d)"
    r"|(?<![\w.,])(?P<old>\d{1,6}(?:[.,]\d{1,3})?)(?P<mid>\s{1,3}[a-zа-я]{1,20})?"
    r"(?P<cut>\s{0,3}[,;-]?\s{0,3}(?:нет|вернее|точнее|no|sorry|i mean|oops)\s{0,3}[,;-]?\s{0,3})(?=\d)"
)


def _mask_corrections(low: str) -> str:
    """The replaced number and the correction word masked; a word between («5 windows, no, 6») stays to bind."""

    def repl(m: re.Match[str]) -> str:
        if m.group("neg") is not None:  # «не 10 окон, а 12»: the word between stays to bind the new number
            return "@" * len(m.group("neg")) + (m.group("mid2") or "") + "@" * len(m.group("cut2"))
        return "@" * len(m.group("old")) + (m.group("mid") or "") + "@" * len(m.group("cut"))

    return _CORRECTED_RE.sub(repl, low)


def _mask(low: str, pattern: re.Pattern[str]) -> str:
    return pattern.sub(lambda m: "@" * len(m.group(0)), low)


def _tokenise(text: str) -> tuple[str, list[Token]]:
    low = _normalise(text)
    masked = low
    for pat in (_URL_RE, _EMAIL_RE, _PHONE_RE, _TIME_NUM_RE):
        masked = _mask(masked, pat)
    masked = _mask_corrections(masked)
    raw: list[Token] = []
    for m in _TOKEN_RE.finditer(masked):
        s = m.group(0)
        if s.startswith("@"):
            continue
        if s[0].isdigit():
            raw.append(Token(s.replace(",", "."), "num", m.start(), m.end(), float(s.replace(",", "."))))
        elif s[0].isalpha():
            raw.append(Token(s.replace("’", "'"), "word", m.start(), m.end()))
        else:
            raw.append(Token(s, "punct", m.start(), m.end()))
    return low, _merge_numbers(raw, masked)


def _word_number(t: Token) -> float | None:
    if t.kind != "word":
        return None
    w = t.text
    for table in (_UNITS_RU, _TENS, _HUNDREDS):
        if w in table:
            return float(table[w])
    return None


_THREE_DIGITS_RE = re.compile(r"\d{3}")
_UP_TO_THREE_DIGITS_RE = re.compile(r"\d{1,3}")


def _merge_numbers(tokens: list[Token], masked: str) -> list[Token]:
    out: list[Token] = []
    i = 0
    while i < len(tokens):
        t = tokens[i]
        wv = _word_number(t)
        if wv is not None:
            # "двадцать пять", "сто сорок два": each next part must be of a smaller magnitude.
            total, last, j = wv, wv, i + 1
            while j < len(tokens):
                nv = _word_number(tokens[j])
                ok = nv is not None and (
                    (last % 100 == 0 and last >= 100 and nv < 100) or (last % 10 == 0 and 20 <= last < 100 and nv < 10)
                )
                if not ok or nv is None:
                    break
                total, last, j = total + nv, nv, j + 1
            # English "a couple"/"a dozen" are fine, but a bare "one" in "one of" is not a quantity.
            nxt = tokens[j].text if j < len(tokens) else ""
            if t.text == "one" and nxt in ("of", "more", "another"):
                out.append(t)
                i += 1
                continue
            t = Token(t.text, "num", t.start, tokens[j - 1].end, total)
            i = j
        elif t.kind == "num":
            i += 1
            # Thousand groups "1 500 000" (single spaces, exactly three digits per group).
            while (
                i < len(tokens)
                and tokens[i].kind == "num"
                and _THREE_DIGITS_RE.fullmatch(tokens[i].text)
                and masked[t.end : tokens[i].start] == " "
                and _UP_TO_THREE_DIGITS_RE.fullmatch(t.text.split(".")[0])
                and "." not in t.text
            ):
                t = Token(t.text + tokens[i].text, "num", t.start, tokens[i].end, float(t.text + tokens[i].text))
                i += 1
        else:
            out.append(t)
            i += 1
            continue
        # "2 с половиной"
        if i + 1 < len(tokens) and tokens[i].text == "с" and tokens[i + 1].text.startswith("половин"):
            t = Token(t.text, "num", t.start, tokens[i + 1].end, (t.value or 0) + 0.5)
            i += 2
        out.append(t)
    return out


def _clauses(tokens: list[Token]) -> list[tuple[list[Token], str]]:
    """Clauses with their terminator (a '?' terminator marks a question)."""
    out: list[tuple[list[Token], str]] = []
    cur: list[Token] = []
    for t in tokens:
        if (t.kind == "punct" and t.text in _CLAUSE_BREAK) or (t.kind == "word" and t.text in _CLAUSE_WORDS):
            if cur:
                out.append((cur, t.text))
            cur = [] if t.kind == "punct" else []
            continue
        cur.append(t)
    if cur:
        out.append((cur, ""))
    return out


# ---------------------------------------------------------------------------------------------------------
# Keywords


_RU_ENDINGS = sorted(
    "ами ями ого его ому ему ыми ими ой ей ий ый ая яя ое ее ов ев ах ях ом ем ам ям ы и а я о е"
    " у ю ь ию ия ость ности ность".split(),
    key=len,
    reverse=True,
)
_KEYWORD_STOP = {
    "количество",
    "кол",
    "число",
    "есть",
    "ли",
    "будет",
    "будут",
    "нужен",
    "нужна",
    "нужно",
    "клиента",
    "клиент",
    "тип",
    "the",
    "of",
    "number",
    "is",
    "there",
    "do",
    "you",
    "have",
    "will",
    "what",
    "how",
    "many",
    "сколько",
    "какой",
    "какая",
    "какие",
    "планируется",
    "вы",
    "вас",
    "для",
    "или",
    "and",
    "будете",
    "ваш",
    "ваша",
    "has",
    "with",
    "clients",
    "client",
    "your",
    "their",
    "who",
    "которые",
    "если",
}


def _stem(word: str) -> str:
    for e in _RU_ENDINGS:
        if word.endswith(e) and len(word) - len(e) >= 3:
            return word[: -len(e)]
    return word


# Built-in knowledge of the preset keys. "=word" means exact token match (short or ambiguous stems).
_BUILTIN_KEYWORDS: dict[str, list[str]] = {
    "windows": ["окн", "=окон", "окош", "window", "стеклопакет"],
    "doors": ["двер", "door"],
    "company_size": [
        "человек",
        "=чел",
        "сотрудник",
        "работник",
        "=люди",
        "=людей",
        "штат",
        "команд",
        "people",
        "employee",
        "staff",
        "person",
        "=team",
        "=persons",
        "специалист",
        "менеджер",
        "~нас",
        "~we're",
    ],
    "budget": ["бюджет", "budget", "потратить", "вложить", "spend", "рассчитыва"],
    "foundation_closed": [
        "фундамент",
        "foundation",
        "цокол",
        "закрыва",
        "закрыт",
        "закроем",
        "=close",
        "=closing",
    ],
    "has_project": ["проект", "чертеж", "эскиз", "project", "drawing", "blueprint", "=plans", "=plan"],
    "has_crm": [
        "crm",
        "срм",
        "црм",
        "amocrm",
        "амо",
        "=amo",
        "битрикс",
        "bitrix",
        "salesforce",
        "hubspot",
        "pipedrive",
        "мегаплан",
        "retailcrm",
        "1с",
        "zoho",
    ],
    "city": ["город", "city", "town"],
}
_WEAK_PROJECT = ["фото", "photo", "картин", "рисун", "sketch", "план"]
_CRM_BRANDS = {
    "amocrm",
    "амо",
    "amo",
    "битрикс",
    "bitrix",
    "salesforce",
    "hubspot",
    "pipedrive",
    "мегаплан",
    "retailcrm",
    "zoho",
    "битрикс24",
    "bitrix24",
}
_CRM_NONE = [
    "excel",
    "эксел",
    "ексел",
    "таблиц",
    "блокнот",
    "тетрад",
    "sheets",
    "spreadsheet",
    "вручную",
    "manually",
]


_LETTERS_RE = re.compile(r"[a-zа-яё]+")


def field_keywords(f: dict[str, Any]) -> list[str]:
    """Keywords for a field: built-in ones for preset keys plus stems of the words of key, label, hint."""
    kws = list(_BUILTIN_KEYWORDS.get(f.get("key", ""), []))
    kws += [str(k).lower() for k in f.get("keywords", []) or []]
    if f.get("key") not in _BUILTIN_KEYWORDS:
        words = _LETTERS_RE.findall(
            " ".join(str(f.get(k, "") or "") for k in ("key", "label", "label_en")).replace("_", " ").lower()
        )
        for w in words:
            w = w.replace("ё", "е")
            if len(w) >= 3 and w not in _KEYWORD_STOP:
                kws.append(_stem(w) if len(_stem(w)) >= 4 else "=" + w)
    return kws


@lru_cache(maxsize=512)
def _kw_index(kws: tuple[str, ...]) -> tuple[frozenset[str], tuple[str, ...]]:
    # "~word" (weak: binds only a number that ends its phrase) and "=word" match exactly; the rest are stems.
    exact = frozenset(k[1:] for k in kws if k.startswith(("~", "=")))
    return exact, tuple(k for k in kws if not k.startswith(("~", "=")))


def _kw_match(token: str, kws: list[str]) -> bool:
    exact, stems = _kw_index(tuple(kws))  # one set lookup and one startswith per token, not a loop per keyword
    return token in exact or token.startswith(stems)


# ---------------------------------------------------------------------------------------------------------
# Gazetteer

_KZ_CITIES = (
    "Алматы Астана Шымкент Караганда Актобе Тараз Павлодар Усть-Каменогорск Семей Атырау Костанай "
    "Кызылорда Уральск Петропавловск Актау Темиртау Туркестан Кокшетау Талдыкорган Экибастуз Рудный "
    "Жанаозен Жезказган Балхаш Кентау Сатпаев Каскелен Кульсары Конаев Риддер Степногорск Сарань Шахтинск "
    "Аксу Аягоз Лисаковск Арыс Жаркент Талгар Есик Байконур Щучинск Аксай Хромтау Зайсан Косшы Сарыагаш "
    "Кандыагаш Шардара Житикара Капчагай Жетысай Аральск Шу Абай Эмба Атбасар Алтай Приозерск Курчатов"
).split()
_RU_CITIES = (
    "Москва Санкт-Петербург Новосибирск Екатеринбург Казань Нижний-Новгород Челябинск Красноярск Самара "
    "Уфа Ростов-на-Дону Омск Краснодар Воронеж Пермь Волгоград Саратов Тюмень Тольятти Ижевск Барнаул "
    "Ульяновск Иркутск Хабаровск Махачкала Ярославль Владивосток Оренбург Томск Кемерово Новокузнецк "
    "Рязань Набережные-Челны Астрахань Пенза Киров Липецк Чебоксары Балашиха Калининград Тула Курск "
    "Севастополь Сочи Ставрополь Улан-Удэ Тверь Магнитогорск Иваново Брянск Белгород Сургут Владимир Чита "
    "Архангельск Нижний-Тагил Калуга Смоленск Волжский Курган Череповец Орел Саранск Вологда Якутск "
    "Мурманск Подольск Грозный Тамбов Стерлитамак Петрозаводск Кострома Нижневартовск Новороссийск "
    "Йошкар-Ола Химки Симферополь Таганрог Комсомольск-на-Амуре Сыктывкар Нальчик Шахты Дзержинск Орск "
    "Братск Благовещенск Энгельс Ангарск Королев Великий-Новгород Псков Бийск Мытищи Люберцы Прокопьевск "
    "Армавир Балаково Абакан Норильск Южно-Сахалинск Сызрань Петропавловск-Камчатский Новый-Уренгой "
    "Тобольск"
).split()
# Extra spellings: English, Kazakh, old names, colloquial.
_CITY_ALIASES: dict[str, list[str]] = {
    "Алматы": ["almaty", "alma-ata", "алма-ата", "алмата", "алмате", "алмату", "алматы", "алмаclub"],
    "Астана": ["astana", "nur-sultan", "нур-султан", "нурсултан", "нур-султане", "акмола", "целиноград"],
    "Шымкент": ["shymkent", "chimkent", "чимкент"],
    "Караганда": ["karaganda", "qaraghandy", "караганды"],
    "Актобе": ["aktobe", "актюбинск"],
    "Тараз": ["taraz", "джамбул"],
    "Павлодар": ["pavlodar"],
    "Усть-Каменогорск": ["ust-kamenogorsk", "oskemen", "оскемен", "усть-ке", "усть-каман"],
    "Семей": ["semey", "semipalatinsk", "семипалатинск"],
    "Атырау": ["atyrau"],
    "Костанай": ["kostanay", "kostanai", "кустанай"],
    "Кызылорда": ["kyzylorda", "кызыл-орда"],
    "Уральск": ["uralsk"],
    "Петропавловск": ["petropavl", "petropavlovsk", "петропавл"],
    "Актау": ["aktau"],
    "Темиртау": ["temirtau"],
    "Туркестан": ["turkestan", "turkistan"],
    "Кокшетау": ["kokshetau"],
    "Талдыкорган": ["taldykorgan"],
    "Экибастуз": ["ekibastuz"],
    "Конаев": ["konaev", "kunaev", "кунаев", "qonaev"],
    "Капчагай": ["kapchagay", "капшагай"],
    "Москва": ["moscow", "moskva", "мск"],
    "Санкт-Петербург": [
        "saint petersburg",
        "st. petersburg",
        "st petersburg",
        "petersburg",
        "спб",
        "питер",
        "питере",
        "питера",
        "петербург",
        "петербурге",
        "петербурга",
    ],
    "Новосибирск": ["novosibirsk"],
    "Екатеринбург": ["yekaterinburg", "ekaterinburg", "екб"],
    "Казань": ["kazan"],
    "Нижний Новгород": [
        "nizhny novgorod",
        "нижний новгород",
        "нижнем новгороде",
        "нижнего новгорода",
        "нижний",
    ],
    "Челябинск": ["chelyabinsk"],
    "Красноярск": ["krasnoyarsk"],
    "Самара": ["samara"],
    "Уфа": ["ufa"],
    "Ростов-на-Дону": [
        "rostov-on-don",
        "rostov",
        "ростове-на-дону",
        "ростова-на-дону",
        "ростов",
        "ростове",
        "ростова",
    ],
    "Омск": ["omsk"],
    "Краснодар": ["krasnodar"],
    "Воронеж": ["voronezh"],
    "Пермь": ["perm"],
    "Волгоград": ["volgograd"],
    "Саратов": ["saratov"],
    "Тюмень": ["tyumen"],
    "Тольятти": ["tolyatti", "togliatti"],
    "Ижевск": ["izhevsk"],
    "Барнаул": ["barnaul"],
    "Иркутск": ["irkutsk"],
    "Хабаровск": ["khabarovsk"],
    "Владивосток": ["vladivostok"],
    "Сочи": ["sochi"],
    "Калининград": ["kaliningrad"],
    "Томск": ["tomsk"],
    "Набережные Челны": ["набережные челны", "набережных челнах", "набережных челнов", "челны", "челнах"],
    "Нижний Тагил": ["нижний тагил", "нижнем тагиле", "нижнего тагила"],
    "Великий Новгород": ["великий новгород", "великом новгороде", "великого новгорода"],
    "Новый Уренгой": ["новый уренгой", "новом уренгое", "нового уренгоя"],
    "Петропавловск-Камчатский": ["петропавловске-камчатском", "петропавловска-камчатского"],
    "Улан-Удэ": ["ulan-ude"],
    "Орел": ["орле", "орла"],
}
# Words that are also first names or common nouns: accepted as a city only after a marker (в, из, город…).
_AMBIGUOUS_CITIES = {
    "Владимир",
    "Абай",
    "Шу",
    "Орел",
    "Киров",
    "Курган",
    "Аксу",
    "Алтай",
    "Эмба",
    "Шахты",
    "Арыс",
    "Есик",
    "Королев",
    "Энгельс",
    "Аксай",
    "Нижний",
    "Семей",
    "Грозный",
    "Сатпаев",
    "Конаев",
    "Курчатов",
    "Рудный",
}
_CITY_MARKERS = {
    "в",
    "во",
    "из",
    "город",
    "городе",
    "города",
    "г",
    "in",
    "from",
    "city",
    "near",
    "под",
    "до",
    "по",
    "гор",
}


def _inflect(nom: str) -> set[str]:
    """Common case forms of a Russian city name (enough for «в Костанае», «из Караганды»)."""
    w = nom.lower().replace("ё", "е")
    forms = {w}
    head, sep, tail = w.rpartition("-")
    if "-на-" in w:  # Ростов-на-Дону: the first part declines
        first, rest = w.split("-", 1)
        return forms | {f + "-" + rest for f in _inflect(first)}
    last = tail
    pre = head + sep
    if last and last[-1] in "бвгджзклмнпрстфхцчшщ":
        forms |= {pre + last + e for e in ("а", "е", "у", "ом", "ы")}
    elif last.endswith("й") and not last.endswith(("ый", "ий")):
        forms |= {pre + last[:-1] + e for e in ("я", "е", "ю", "ем")}
    elif last.endswith("ь"):
        forms |= {pre + last[:-1] + e for e in ("и", "я", "е", "ю", "ью", "ем")}
    elif last.endswith("а"):
        forms |= {pre + last[:-1] + e for e in ("ы", "и", "е", "у", "ой")}
    elif last.endswith("я"):
        forms |= {pre + last[:-1] + e for e in ("и", "е", "ю", "ей")}
    elif last.endswith("ск"):
        forms |= {pre + last + e for e in ("а", "е", "у", "ом")}
    return forms


_KK_CASE_ENDINGS = (
    "да",
    "де",
    "та",
    "те",
    "ға",
    "ге",
    "қа",
    "ке",
    "дан",
    "ден",
    "тан",
    "тен",
    "нан",
    "нен",
    "ның",
    "нің",
    "дағы",
    "дегі",
    "тағы",
    "тегі",
)


def _build_gazetteer() -> dict[str, str]:
    gaz: dict[str, str] = {}
    for raw in _KZ_CITIES + _RU_CITIES:
        # Multi-word names are spelled with '-' in the lists above; real hyphens stay in the canonical name.
        canonical = raw.replace("Нижний-", "Нижний ").replace("Набережные-", "Набережные ")
        canonical = canonical.replace("Великий-", "Великий ").replace("Новый-", "Новый ")
        if " " in canonical:
            gaz[canonical.lower()] = canonical
            continue
        forms = _inflect(canonical)
        if raw in _KZ_CITIES and "-" not in raw:  # Kazakh case endings: «Алматыда», «Астанаға», «Шымкенттен»
            forms |= {canonical.lower().replace("ё", "е") + e for e in _KK_CASE_ENDINGS}
        for form in forms:
            gaz.setdefault(form, canonical)
    for canonical, aliases in _CITY_ALIASES.items():
        for a in aliases:
            gaz[a.replace("ё", "е")] = canonical
    gaz.pop("алмаclub", None)
    return gaz


GAZETTEER: dict[str, str] = _build_gazetteer()


def _trie_alternation(words: list[str]) -> str:
    """The words as one alternation factored by shared prefixes («алмат(?:ы|а|е)…»): a position is rejected
    after a character or two instead of after trying 1,000 names one by one. Longer words are tried first
    and shorter ones on backtracking, the order of a longest-first plain alternation."""
    trie: dict[str, dict] = {}
    for word in words:
        node = trie
        for ch in word:
            node = node.setdefault(ch, {})
        node[""] = {}

    def build(node: dict[str, dict]) -> str:
        branches = [re.escape(ch) + build(child) for ch, child in sorted(node.items()) if ch]
        if not branches:
            return ""
        body = branches[0] if len(branches) == 1 else "(?:" + "|".join(branches) + ")"
        if "" in node:  # a word ends here: tried after the longer ones
            return f"(?:{body})?" if len(branches) > 1 or len(body) > 1 else f"{body}?"
        return body

    return build(trie)


_CITY_RE = re.compile(r"(?<![\w-])(" + _trie_alternation(list(GAZETTEER)) + r")(?![\w-])")
CITY_NAMES: set[str] = set(GAZETTEER.values())
_LATIN_ALIAS_RE = re.compile(r"[a-z .-]+")
_WORD_BEFORE_RE = re.compile(r"[a-zа-я]+")
# English spelling for replies in English (first Latin alias), e.g. «Астана» → "Astana".
CITY_EN: dict[str, str] = {
    c: next((a.title() for a in aliases if _LATIN_ALIAS_RE.fullmatch(a)), c) for c, aliases in _CITY_ALIASES.items()
}


def find_city(text: str, *, bare_ok: bool = False) -> tuple[str, int, int] | None:
    """(canonical Russian nominative, start, end) of the first known city in the text, if any.

    Names that are also common words («Семей», «Владимир») need a marker («в», «из», «город») unless
    `bare_ok` (the message is a bare answer to our question about the city)."""
    low = _normalise(text)
    for m in _CITY_RE.finditer(low):
        canonical = GAZETTEER[m.group(1)]
        before = _WORD_BEFORE_RE.findall(low[max(0, m.start() - 12) : m.start()])
        if (canonical in _AMBIGUOUS_CITIES or m.group(1) == "нижний") and not bare_ok:
            if not before or before[-1] not in _CITY_MARKERS:
                continue
        return canonical, m.start(), m.end()
    return None


# ---------------------------------------------------------------------------------------------------------
# Intents

_INTENT_RES: dict[str, re.Pattern[str]] = {
    "greeting": re.compile(
        r"(?<![\w-])(привет\w*|здравствуй\w*|здрасте|здрасьте|здрасти|"
        r"добр(ый|ое|ого) (день|утро|вечер|дня|утра|вечера|времени)|салем|салам\w*|сәлем\w*|"
        r"hello|hi|hey|hiya|good (morning|afternoon|evening)|greetings)"
        r"(?![\w-])"
    ),
    "call_request": re.compile(
        r"(?<![\w-])((по|пере)звон(ите|и|ить|им|ю|ишь|ят)|звонок|звонка|звоните|созвон\w*|"
        r"наберите|набери меня|набрать меня|(можете|можешь|можно|могли бы) (мне |меня )?набрать|"
        r"свяж\w+ (со мной )?по телефону|(поговорить|обсудить|пообщаться) по телефону|"
        r"call me|call back|give me a call|phone me|ring me|(can|could|would|will) you (please )?call|"
        r"please call|(get|have|schedule|arrange|book) a (quick )?call|a phone call|talk on the phone|"
        r"call tomorrow|call today|call later)(?![\w-])"
    ),
    "price_question": re.compile(
        r"(?<![\w-])(сколько ([\w-]+ ){0,3}(стоит|стоят|стоить|выйдет|обойдется|обойдутся|"
        r"денег)|цен(а|у|ы|е|ой|ник|ами)|стоимост\w*|почем|по чем|прайс\w*|расценк\w*|"
        r"во сколько (это |мне |нам )?обойд\w*|how much|price\w*|cost|costs|pricing|quote|rates)(?![\w-])"
    ),
    "refusal": re.compile(
        r"(?<![\w-])(не ?актуальн\w*|не ?интерес\w*|больше не (пишите|нужно|надо)|не (пишите|беспокойте)|"
        r"отпишит\w*|отстаньт\w*|уже (купили|нашли|заказали|построили|выбрали|договорились)|"
        r"нашли (другого|других|другую|подрядчика)|передумал\w*|откажусь|отказываюсь|отказываемся|"
        r"(нам|мне) (это )?(уже )?не нужно(?=\s*([.,!]|$))|ничего не нужно|не нуждаемся|"
        r"не надо (больше )?(писать|ничего)|"
        r"no,? thanks|not interested|no longer (needed|relevant|interested)|not relevant|"
        r"stop (writing|messaging|texting)|unsubscribe|leave me alone|(don't|do not) (write|text|message)|"
        r"already (bought|found|chose|signed)|changed (my|our) mind|(we|i) (don't|do not) need (it|this))"
        r"(?![\w-])"
    ),
    "human_request": re.compile(
        r"(?<![\w-])(жив(ой|ым|ого|ому|ые|ыми|ых) (менеджер\w*|человек\w*|оператор\w*|сотрудник\w*|"
        r"специалист\w*|людьми|консультант\w*)|оператор\w*|с человеком|с людьми|с живым|"
        r"настоящ\w+ (человек\w*|менеджер\w*)|"
        r"(позовите|соедините|свяжите|позови|соедини|переключите|подключите|дайте|передайте)"
        r"( \w+){0,3} (менеджер\w*|человек\w*|специалист\w*|сотрудник\w*|руководител\w*)|"
        r"(поговорить|говорить|общаться|связаться|пообщаться) с (вашим |вашей )?(менеджер\w*|специалист\w*|"
        r"сотрудник\w*|руководител\w*|консультант\w*)|вы (что )?бот|это бот|с ботом|не с ботом|"
        r"real person|human|live (agent|person|operator)|operator|"
        r"(talk|speak|chat) (to|with) (a |an |your |the )?"
        r"(manager|agent|someone|person|sales|representative)|"
        r"are you a bot|is this a bot)(?![\w-])"
    ),
}

_TIME_PHRASE_RE = re.compile(
    r"(?<![\w-])("
    r"(?:(?:после|до|с|к|в|около|after|before|at|around|from|by)\s+)?\d{1,2}[:]\d{2}"
    r"(?:\s*(?:-|–|до|to)\s*\d{1,2}(?:[:]\d{2})?)?"
    r"|(?:после|до|с|к|в|около|after|before|at|around|from|by)\s+\d{1,2}(?:\s*(?:-|–|до|to)\s*\d{1,2})?"
    r"\s*(?:ч\b|час\w*|утра|вечера|дня|ночи|am\b|pm\b)"
    r"|(?:после|after)\s+\d{1,2}(?!\s*(?:[.,]\d|м\b|m\b|метр|человек|сотрудн|окон|окн|двер|млн|тыс|%))"
    r"|\d{1,2}\s*(?:am|pm)"
    r"|(?:послезавтра|завтра|сегодня|tomorrow|today)\s{1,3}(?:в|к|около|после|at|after|around)\s{1,3}\d{1,2}"
    r"(?::\d{2})?(?:\s{0,2}(?:am|pm|утра|дня|вечера))?(?![\d:])"
    r"|послезавтра|завтра|сегодня|day after tomorrow|tomorrow|today|tonight"
    r"|(?:после|до) обеда|в обед|утром|вечером|днем|с утра|ближе к вечеру|в первой половине дня"
    r"|во второй половине дня|in the (?:morning|afternoon|evening)|this (?:morning|afternoon|evening)"
    r"|(?:at|after) lunch|(?:в|во) (?:понедельник|вторник|среду|четверг|пятницу|субботу|воскресенье)"
    r"|on (?:monday|tuesday|wednesday|thursday|friday|saturday|sunday)|(?:на|в) выходны\w+"
    r"|(?:on|at) the weekend|в любое время|any ?time|через (?:час|полчаса|\d+ (?:минут|час)\w*)"
    r"|in (?:an|one|\d+) hours?|(?:morning|afternoon|evening)"
    r")(?![\w-])"
)


_NEGATION_BEFORE_RE = re.compile(r"(?<!\w)(не|не надо|не нужно|нельзя|don't|dont|do not|no|not)\s+(\w+\s+)?$")


def _negated_call(low: str, m: re.Match[str]) -> bool:
    return bool(_NEGATION_BEFORE_RE.search(low[max(0, m.start() - 20) : m.start()]))


# ---------------------------------------------------------------------------------------------------------
# Names

_NAME_STOP = {
    # Words people put where a name could stand; a name never is one of these.
    "да",
    "нет",
    "ок",
    "окей",
    "хорошо",
    "ладно",
    "можно",
    "давайте",
    "спасибо",
    "привет",
    "здравствуйте",
    "здрасте",
    "меня",
    "мое",
    "моё",
    "имя",
    "зовут",
    "я",
    "это",
    "звоните",
    "позвоните",
    "лучше",
    "любое",
    "время",
    "удобно",
    "после",
    "до",
    "завтра",
    "сегодня",
    "утром",
    "вечером",
    "днем",
    "обеда",
    "в",
    "на",
    "из",
    "с",
    "по",
    "и",
    "а",
    "но",
    "или",
    "уже",
    "еще",
    "пока",
    "тут",
    "здесь",
    "директор",
    "менеджер",
    "владелец",
    "собственник",
    "руководитель",
    "прораб",
    "заказчик",
    "клиент",
    "от",
    "интересует",
    "хочу",
    "хотим",
    "нужно",
    "надо",
    "сколько",
    "цена",
    "дом",
    "проект",
    "вот",
    "так",
    "ну",
    "ага",
    "угу",
    "конечно",
    "буду",
    "будем",
    "готов",
    "готова",
    "занят",
    "занята",
    "тоже",
    "сам",
    "сама",
    "yes",
    "no",
    "ok",
    "okay",
    "sure",
    "thanks",
    "hello",
    "hi",
    "hey",
    "the",
    "a",
    "an",
    "interested",
    "looking",
    "from",
    "here",
    "just",
    "not",
    "tomorrow",
    "today",
    "after",
    "call",
    "me",
    "fine",
    "good",
    "great",
    "happy",
    "glad",
    "sorry",
    "busy",
    "ready",
    "going",
    "planning",
    "in",
    "at",
    "on",
    "still",
    "also",
    "owner",
    "director",
    "manager",
    "building",
    "calling",
    "writing",
    "afraid",
    "new",
    "человек",
    "один",
    "одна",
    "бот",
    "звоню",
    "пишу",
    "представитель",
    "компания",
    "компании",
    "вам",
    "вас",
    "вы",
    "мы",
    "он",
    "она",
    "они",
    "там",
    "когда",
    "где",
    "как",
    "что",
    "кто",
    "дизайнер",
    "архитектор",
    "строитель",
    "бухгалтер",
    "юрист",
    "маркетолог",
    "частное",
    "лицо",
    "ип",
    "тоо",
    "не",
    "ни",
    "сюда",
    "пишите",
    "напишите",
    "нас",
    "нам",
    "наш",
    "наша",
    "наши",
    "мой",
    "моя",
    "мне",
    "у",
    "we",
    "us",
    "our",
    "my",
    "it",
    "this",
    "that",
    "i",
    "you",
    "they",
    "he",
    "she",
    "его",
    "ее",
    "их",
    "все",
    "всё",
    "всем",
    "нормально",
    "отлично",
    "понятно",
    "ясно",
    "добрый",
    "доброе",
    "день",
    "вечер",
    "утро",
    "спс",
    "благодарю",
    "thank",
    "please",
}
_SURNAME_RE = re.compile(r"(ов|ев|ин|ова|ева|ина|ский|ская|цкий|цкая|енко|ук|юк|ян|уly|улы|кызы|ко)$")


def _is_name_word(word: str, low: str) -> bool:
    w = low.replace("ё", "е")
    return (
        word.isalpha()
        and 2 <= len(word) <= NAME_WORD_CHARS
        and w not in _NAME_STOP
        and (w not in GAZETTEER or GAZETTEER[w] in _AMBIGUOUS_CITIES)
        and _word_number(Token(w, "word", 0, 0)) is None
        and not any(_kw_match(w, kws) for kws in _BUILTIN_KEYWORDS.values())
        and not _TIME_PHRASE_RE.fullmatch(w)
        and not w.endswith(("ите", "йте", "ться", "ать", "ять", "ить", "еть"))  # verbs: «наберите», «звонить»
        and not any(p.search(w) for p in _INTENT_RES.values())
    )


def _title(word: str) -> str:
    return "-".join(p[:1].upper() + p[1:].lower() for p in word.split("-"))


_NAME_PATTERNS = [
    # (regex on the original text, capitalisation required)
    (
        re.compile(
            r"(?i)(?:меня\s+зовут|мо[её]\s+имя|зовут\s+меня|имя\s*[:\-]|my\s+name\s+is|name\s*[:\-]|"
            r"my\s+name's|call\s+me(?=\s+[A-Z]))\s+([A-Za-zА-Яа-яЁё-]+)(?:\s+([A-Za-zА-Яа-яЁё-]+))?"
        ),
        False,
    ),
    (re.compile(r"(?:^|[\s,.!])(?:[Мм]еня|[Мм]оё\s+имя)\s+([A-ZА-ЯЁ][a-zа-яё-]+)\s+(?:зовут|звать)"), True),
    (re.compile(r"(?:^|[\s,.!])([A-ZА-ЯЁ][a-zа-яё-]+)\s+(?:here|на\s+связи|беспокоит|пишет)\b"), True),
    (
        re.compile(
            r"(?:^|[\s,.!])(?:[Яя]|[Ээ]то|I'm|I\s+am|Im|this\s+is|This\s+is|[Сс]\s+вами|[Пп]ишет|"
            r"[Нн]а\s+связи)\s+([A-ZА-ЯЁ][a-zа-яё-]+)(?:\s+([A-ZА-ЯЁ][a-zа-яё-]+))?"
        ),
        True,
    ),
]


# A question back is no name: «Do you deliver?», «Сколько стоит?» right after "how may I call you?".
_ASK_WORDS = frozenset(
    "do does did can could is are will would should may how what when where why who which show send please "
    "сколько какой какая какие когда где почему можно покажите пришлите а и".split()
)


def _extract_name(text: str, clauses: list[tuple[list[Token], str]], awaiting: list[str]) -> tuple[str, str] | None:
    for pat, _ in _NAME_PATTERNS:
        for m in pat.finditer(text):
            first = m.group(1)
            if not _is_name_word(first, first.lower()):
                continue
            name = _title(first)
            second = m.group(2) if m.re.groups >= 2 else None
            if (
                second
                and second[0].isupper()
                and _SURNAME_RE.search(second.lower())
                and _is_name_word(second, second.lower())
            ):
                name += " " + _title(second)
            return name, m.group(0).strip(" ,.!")
    if "name" in awaiting and clauses:
        # A bare answer to "как к вам обращаться?": «Ерлан, после 18:00», «айгуль».
        for toks, _ in clauses[:2]:
            words = [t for t in toks if t.kind == "word"]
            if not words or len(toks) > 3 or any(t.kind == "num" for t in toks) or words[0].text in _ASK_WORDS:
                continue
            t = words[0]
            orig = text[t.start : t.end]
            if _is_name_word(orig, t.text) and (orig[0].isupper() or len(toks) <= 2):
                return _title(orig), text[toks[0].start : toks[-1].end]
    return None


# ---------------------------------------------------------------------------------------------------------
# Extraction


@dataclass
class Extraction:
    name: str | None = None
    city: str | None = None
    data: dict[str, Any] = field(default_factory=dict)
    intents: set[str] = field(default_factory=set)
    language: str = "ru"
    preferred_time: str | None = None
    email: str | None = None
    quotes: dict[str, str] = field(default_factory=dict)
    off_topic: bool = False


_CYRILLIC_RE = re.compile(r"[а-яёәғқңөұүһі]+")
_LATIN_WORD_RE = re.compile(r"[a-z]+")


def guess_language(text: str) -> str | None:
    """'ru' / 'en' / 'kk' (Kazakh), or None when the text has too few letters to tell (a bare «5», «ok», «CRM»)."""
    text = _URL_RE.sub(" ", _EMAIL_RE.sub(" ", text)).lower()
    cyr = len(text) - len(_CYRILLIC_RE.sub("", text))  # counted without a list of a million 1-char strings
    words = _LATIN_WORD_RE.findall(text)
    lat_words = [
        w
        for w in words
        if w
        not in {
            "ok",
            "okay",
            "crm",
            "amocrm",
            "bitrix",
            "excel",
            "whatsapp",
            "telegram",
            "instagram",
            "m",
            "k",
            "x",
            "amo",
        }
    ]
    if cyr >= 2:
        if cyr < sum(len(w) for w in lat_words) / 2:
            return "en"
        return "kk" if _is_kazakh(text) else "ru"
    if lat_words and sum(len(w) for w in lat_words) >= 2:
        return "en"
    return None


_KK_LETTERS_RE = re.compile(r"[әғқңөұүһі]")
_KK_WORDS = frozenset(
    "рахмет керек канша кандай жок салеметсиз сәлеметсіз қанша қандай жоқ иә бізге маған үй уй қалай калай "
    "жақсы жаксы болады тұрады турады".split()
)


def _is_kazakh(low: str) -> bool:
    """Kazakh: two of its own letters (ә ғ қ ң ө ұ ү һ і), or a common Kazakh word typed in Russian letters."""
    if len(_KK_LETTERS_RE.findall(low[:2000])) >= 2:
        return True
    return any(w in _KK_WORDS for w in _CYRILLIC_RE.findall(low[:2000]))


def detect_language(text: str) -> str:
    return guess_language(text) or "ru"


def _clause_text(text: str, toks: list[Token]) -> str:
    return text[toks[0].start : toks[-1].end].strip() if toks else ""


_MONEY_FIELD_RE = re.compile(r"budget|бюджет|price|cost|amount|sum\b|сумм|стоимост|цена|revenue|выручк")
_CITY_FIELD_RE = re.compile(r"\bcity\b|город|населенн|населённ")


def _is_money_field(f: dict[str, Any]) -> bool:
    blob = " ".join(str(f.get(k, "")) for k in ("key", "label", "label_en", "hint")).lower()
    return bool(_MONEY_FIELD_RE.search(blob))


def _is_city_field(f: dict[str, Any]) -> bool:
    blob = " ".join(str(f.get(k, "")) for k in ("key", "label", "label_en")).lower()
    return f.get("type", "text") == "text" and bool(_CITY_FIELD_RE.search(blob))


_NEG_WORDS = {
    "не",
    "нет",
    "нету",
    "без",
    "ни",
    "no",
    "not",
    "never",
    "none",
    "without",
    "нельзя",
    "отсутствует",
    "неа",
    "nope",
    "don't",
    "dont",
    "doesn't",
    "haven't",
    "hasn't",
    "isn't",
    "aren't",
    "won't",
    "wont",
    "didn't",
    "cannot",
    "can't",
    "nobody",
    "nothing",
}
# For "have/has" fields a promise is not possession: «проект будет позже» = no project yet.
_NOT_YET_RE = re.compile(
    r"позже|потом|не готов|в процессе|планируем сделать|закажем|not yet|later|will be|"
    r"будем делать|будем заказывать"
)
_UNSURE_RE = re.compile(
    r"не знаю|не решили|не уверен|подумаем|думаем|пока не ясно|посмотрим|не определил|"
    r"don't know|dont know|not sure|unsure|undecided|maybe|может быть|возможно"
)
_YES_WORDS = {
    "да",
    "ага",
    "угу",
    "конечно",
    "есть",
    "будем",
    "будет",
    "yes",
    "yeah",
    "yep",
    "sure",
    "планируем",
    "нужно",
    "нужен",
    "нужна",
    "хотим",
    "of course",
    "имеется",
    "разумеется",
    "естественно",
}
_NO_WORDS = {"нет", "неа", "no", "nope", "нету", "не"}
_FILLER = {
    "штук",
    "шт",
    "будет",
    "будут",
    "около",
    "примерно",
    "где-то",
    "где",
    "то",
    "приблизительно",
    "about",
    "around",
    "approximately",
    "roughly",
    "is",
    "are",
    "of",
    "m",
    "м",
    "метра",
    "метров",
    "метр",
    "meters",
    "metres",
    "meter",
    "metre",
    "high",
    "all",
    "in",
    "total",
    "всего",
    "нужно",
    "надо",
    "хотим",
    "нас",
    "the",
    "there",
    "будем",
    "we",
    "have",
    "нам",
    "по",
    "планируем",
    "было",
    "бы",
    "ну",
    "ещё",
    "еще",
    "our",
    "at",
    "least",
    "почти",
    "больше",
    "меньше",
    "чуть",
    "до",
    "штуки",
    "pcs",
    "у",  # «окон у нас 10»
    "этажа",  # «высота этажа 3 метра»
    "a",
}

_DIM_SEP = {"x", "х", "*", "на", "by"}
_DIM_KEYWORDS = {
    "length": ["длин", "length", "=long"],
    "width": ["ширин", "width", "=wide"],
    "height": ["высот", "потол", "height", "=high", "=tall", "=walls", "=ceiling", "=ceilings"],
}

_URGENCY_RULES: list[tuple[str, re.Pattern[str]]] = [
    # Order matters: negated urgency ("не срочно") must win before "срочно".
    (
        "later",
        re.compile(
            r"не (очень |так )?срочн\w*|не горит|несрочн\w*|просто (смотрим|интересуюсь|интересуемся|изучаем|"
            r"присматриваемся|узнаю|узнать|спрашиваю)|присматрива\w*|пока (изучаем|смотрим|думаем|собираем)|"
            r"(в|на) следующем году|(в|на) следующий год|через (полгода|год|пол года|несколько месяцев)|"
            r"когда-нибудь|не скоро|не торопимся|без спешки|not urgent|no rush|no hurry|"
            r"just (looking|browsing)|"
            r"next year|some ?day|maybe later|much later|in the future|not in a hurry|"
            r"(в|к) (следующем|след) сезон\w*"
        ),
    ),
    (
        "now",
        re.compile(
            r"срочн\w*|горим|горит|asap|urgent\w*|немедленно|как можно (скорее|быстрее)|прямо сейчас|"
            r"на этой неделе|в ближайшие дни|вчера|right now|right away|immediately|this week|"
            r"as soon as possible|"
            r"уже сейчас|сейчас нужно|нужно сейчас|горящ\w*|в течение недели|within a week"
        ),
    ),
    (
        "month",
        re.compile(
            r"(в|на) (этом|следующем|ближайш\w*) месяц\w*|"
            r"через (месяц|пару недель|\d+ недел\w*|неделю|две недели|"
            r"несколько недель)|в течение месяца|(this|next|within a|in a) month|in (a few|two|\d+) weeks|"
            r"до конца месяца|к концу месяца|end of (the )?month|в ближайший месяц"
        ),
    ),
    (
        "quarter",
        re.compile(
            r"квартал\w*|quarter|через (\d|два|три|пару|2-3|2 - 3) месяц\w*|"
            r"в течение (\d|двух|трех|пары) месяц\w*|"
            r"in (two|three|\d|a couple of|a few) months|within (two|three|\d) months|(next|this) season"
        ),
    ),
]

_NEEDS_TRIGGER = re.compile(
    r"(?:^|[\s,.!])(?<!не )(?:нам |мне |очень )?"
    r"(?:нужн[оаы]?|нужен|надо|необходимо|хотим|хочу|хотелось бы|требуется|"
    r"интересует|интересуют|ищем|ищу|задача(?:\s*+[:\-—])?|we need to|we need|i need to|i need|need to|"
    r"we want to|we want|i want to|i want|looking for|we're looking for|we'd like to|we would like to|"
    r"interested in)\s+(.+)",
    re.IGNORECASE,
)
_NEEDS_DROP = re.compile(
    r"^(срочно|горим|очень срочно|asap|urgently|please|пожалуйста|спасибо|thanks|пока|не срочно|"
    r"как можно скорее|быстро|quickly)$"
)


def _bind_numbers(clause: list[Token], groups: dict[str, list[str]]) -> dict[str, tuple[float, Token]]:
    """Attribute free numbers of a clause to keyword groups: «5 окон 2 двери» binds each number to the keyword
    after it, «окон 5, дверей 2» / «человек 40» to the keyword before. Both orientations are tried and the one
    that binds more numbers over shorter distances wins — no per-phrase rules needed."""
    nums = [i for i, t in enumerate(clause) if t.kind == "num" and not t.used]
    if not nums:
        return {}
    kw_at: dict[int, str] = {}
    weak: set[int] = set()
    for i, t in enumerate(clause):
        if t.kind == "word":
            for g, kws in groups.items():
                if _kw_match(t.text, kws):
                    kw_at[i] = g
                    if "~" + t.text in kws:
                        weak.add(i)
                    break

    def modifies_noun(ni: int) -> bool:
        # «у нас 3 салона»: the number belongs to «салона», so the weak «нас» must not take it.
        nxt = clause[ni + 1] if ni + 1 < len(clause) else None
        return nxt is not None and nxt.kind == "word" and nxt.text not in _FILLER and (ni + 1) not in kw_at

    if not kw_at:
        return {}
    best: dict[str, tuple[float, Token]] = {}
    best_score: tuple[int, int] = (0, 0)
    for direction in (1, -1):
        bound: dict[str, tuple[float, Token]] = {}
        dist_total = 0
        taken: set[int] = set()
        for ni in nums:
            j, d = ni + direction, 1
            while 0 <= j < len(clause) and d <= 4:
                if j in kw_at and j not in taken and not (j in weak and modifies_noun(ni)):
                    g = kw_at[j]
                    if g not in bound:
                        bound[g] = (clause[ni].value or 0.0, clause[ni])
                        taken.add(j)
                        dist_total += d
                    break
                if clause[j].kind == "num" or (clause[j].kind == "word" and clause[j].text not in _FILLER):
                    break
                j, d = j + direction, d + 1
        score = (len(bound), -dist_total - (0 if direction == 1 else 0))
        if score > best_score:
            best, best_score = bound, score
    return best


def _as_number(v: float) -> int | float:
    return int(v) if float(v).is_integer() else round(v, 3)


def _extract_dimensions(clauses: list[tuple[list[Token], str]], text: str) -> tuple[dict[str, Any], str]:
    dims: dict[str, Any] = {}
    quoted: list[list[Token]] = []  # clauses of the quote, joined once at the end (not re-copied per number)
    for toks, _ in clauses:
        # "10 на 12", "10x8x2.7", "12*15", "10 by 14" — units between numbers are allowed.
        i = 0
        while i < len(toks):
            if toks[i].kind != "num" or toks[i].used:
                i += 1
                continue
            seq = [i]
            j = i + 1
            while j < len(toks):
                k = j
                if toks[k].text in ("м", "m", "метров", "метра", "meters", "metres"):
                    k += 1
                if (
                    k + 1 < len(toks)
                    and toks[k].text in _DIM_SEP
                    and toks[k + 1].kind == "num"
                    and not toks[k + 1].used
                ):
                    seq.append(k + 1)
                    j = k + 2
                    if len(seq) == 3:
                        break
                else:
                    break
            if len(seq) >= 2:
                vals = [toks[s].value or 0.0 for s in seq]
                after = toks[seq[-1] + 1].text if seq[-1] + 1 < len(toks) else ""
                if len(vals) == 3 and (after.startswith("этаж") or not 1.5 <= vals[2] <= 30):
                    seq, vals = seq[:2], vals[:2]
                if all(0.5 <= v <= 300 for v in vals[:2]) and not after.startswith(("человек", "сотрудн")):
                    dims["length"], dims["width"] = _as_number(vals[0]), _as_number(vals[1])
                    if len(vals) == 3:
                        dims["height"] = _as_number(vals[2])
                    for s in seq:
                        toks[s].used = True
                    quoted = [toks]
                    i = seq[-1] + 1
                    continue
            i += 1
        # Labelled parts: «длина 11 ширина 7 высота 3», «высота потолков 2,7», «3 m high».
        for part, (val, tok) in _bind_numbers(toks, _DIM_KEYWORDS).items():
            if part == "height" and not 1.5 <= val <= 30:
                continue
            dims[part] = _as_number(val)
            tok.used = True
            quoted.append(toks)
    return dims, "; ".join(_clause_text(text, toks) for toks in quoted)


def _extract_money(clauses: list[tuple[list[Token], str]], text: str) -> tuple[float | None, str]:
    for toks, _ in clauses:
        for i, t in enumerate(toks):
            if t.kind != "num" or t.used:
                continue
            value = t.value or 0.0
            prev = toks[i - 1].text if i > 0 else ""
            nxt = toks[i + 1] if i + 1 < len(toks) else None
            money = prev in _CURRENCY_SIGNS
            j = i + 1
            if nxt is not None and nxt.text in _MULTIPLIERS:
                glued = nxt.start == t.end
                # «к»/«k» is a preposition unless glued («500к»); a bare "m" is metres unless after "$".
                ambiguous = (nxt.text in ("k", "к") and not glued) or nxt.text == "m"
                if not ambiguous or prev in _CURRENCY_SIGNS:
                    value *= _MULTIPLIERS[nxt.text]
                    money = True
                    j += 1
            if j < len(toks) and (_CURRENCY_WORDS.match(toks[j].text) or toks[j].text in _CURRENCY_SIGNS):
                money = True
            if money:
                t.used = True
                return value, _clause_text(text, toks)
    return None, ""


def _polarity(toks: list[Token], low_clause: str) -> bool | None:
    if _UNSURE_RE.search(low_clause):
        return None
    return not any(t.text in _NEG_WORDS for t in toks)


def _extract_boolean(f: dict[str, Any], clauses: list[tuple[list[Token], str]], text: str) -> tuple[bool | None, str]:
    key = f.get("key", "")
    kws = field_keywords(f)
    strong: tuple[bool | None, str] = (None, "")
    weak: tuple[bool | None, str] = (None, "")
    for toks, term in clauses:
        val, q, is_strong = _boolean_in_clause(key, kws, toks, term, text)
        if val is not None:
            # Later statements refine earlier ones; explicit keyword statements beat indirect hints.
            if is_strong:
                strong = (val, q)
            else:
                weak = (val, q)
    return strong if strong[0] is not None else weak


_HAVE_PHOTOS_RE = re.compile(r"есть|скину|скинуть|пришлю|отправлю|могу|have|got|send you|имеются")
_NEED_WORDS = re.compile(r"нужн|хотим|хочу|ищем|ищу|внедр|подключ|need|want|looking|планируем внедр")


def _boolean_in_clause(
    key: str, kws: list[str], toks: list[Token], term: str, text: str
) -> tuple[bool | None, str, bool]:
    low_clause = " ".join(t.text for t in toks)
    has_kw = any(t.kind == "word" and _kw_match(t.text, kws) for t in toks)
    if key == "has_crm":
        if not has_kw and any(_kw_match(t.text, _CRM_NONE) for t in toks):
            return False, _clause_text(text, toks), False  # «ведём всё в excel» = no CRM (weak evidence)
        if any(t.text in _CRM_BRANDS for t in toks) and term != "?":
            pol = _polarity(toks, low_clause)
            if pol is not None:
                return pol, _clause_text(text, toks), True
    # Photos count as a project only when the client says they have them.
    if (
        key == "has_project"
        and not has_kw
        and any(_kw_match(t.text, _WEAK_PROJECT) for t in toks)
        and _HAVE_PHOTOS_RE.search(low_clause)
    ):
        pol = _polarity(toks, low_clause)
        if pol is not None:
            return pol, _clause_text(text, toks), False
    if has_kw and term != "?":
        if key in ("has_crm", "has_project") and _NEED_WORDS.search(low_clause):
            return None, "", False  # «нужна CRM» says nothing about having one
        pol = _polarity(toks, low_clause)
        if pol and key.startswith("has_") and _NOT_YET_RE.search(low_clause):
            pol = False
        if pol is not None:
            return pol, _clause_text(text, toks), True
    return None, "", False


def _choice_value(c: Any) -> str:
    return str(c.get("value")) if isinstance(c, dict) else str(c)


def _extract_choice(f: dict[str, Any], low: str) -> tuple[str | None, str]:
    choices = [_choice_value(c) for c in f.get("choices", []) or []]
    if f.get("key") == "urgency" or set(choices) == {"now", "month", "quarter", "later"}:
        for value, pat in _URGENCY_RULES:
            m = pat.search(low)
            if m and value in choices:
                return value, m.group(0)
    # Tenant choices: match the value or its label(s) as words.
    for c in f.get("choices", []) or []:
        labels = [_choice_value(c)]
        if isinstance(c, dict):
            labels += [str(c.get(k)) for k in ("label", "label_en") if c.get(k)]
            labels += [str(k) for k in c.get("keywords", []) or []]
        for lab in labels:
            lab_low = lab.lower().replace("ё", "е").replace("_", " ")
            stem = _stem(lab_low) if " " not in lab_low else lab_low
            # The tenant's own label: an escaped literal, compiled per call (linear like any literal).
            if len(stem) >= 2 and re.compile(r"(?<![\w-])" + re.escape(stem)).search(low):
                return _choice_value(c), lab
    return None, ""


_URGENT_TAIL_RE = re.compile(r"(?<!\s)\s+(срочно|очень срочно|asap|urgently)$", re.IGNORECASE)
_PRONOUNS_RE = re.compile(r"(?<![\w-])(it|this|that|them|one|это|его|ее|их|все|всё|так|бы)(?![\w-])")
_NOT_LETTERS_RE = re.compile(r"[^a-zа-яё]+")
_SENTENCE_END_RE = re.compile(r"[.!?\n]")
_NEEDS_PARTS_RE = re.compile(r"[,;]|\s—\s|\s-\s")


def _extract_needs(text: str, low: str) -> str | None:
    m = _NEEDS_TRIGGER.search(text)
    if not m:
        return None
    end = _SENTENCE_END_RE.search(m.group(1))
    rest = m.group(1)[: end.start()] if end else m.group(1)
    parts = [p.strip() for p in _NEEDS_PARTS_RE.split(rest)]
    kept = [p for p in parts if p and not _NEEDS_DROP.match(p.lower())]
    # Strip urgency tails glued without a comma («… из инстаграма срочно»).
    value = ", ".join(kept).strip()
    value = _URGENT_TAIL_RE.sub("", value)
    # What is left after removing timing words and pronouns must still say something («need it this quarter»).
    rest = value.lower()
    for _, pat in _URGENCY_RULES:
        rest = pat.sub(" ", rest)
    rest = _TIME_PHRASE_RE.sub(" ", rest)
    rest = _PRONOUNS_RE.sub(" ", rest)
    if len(_NOT_LETTERS_RE.sub("", rest)) < 3:
        return None
    if len(value) < 3 or any(p.search(value.lower()) for p in _INTENT_RES.values()):
        return None  # «хочу поговорить с менеджером» is a request, not a need
    return value[:TEXT_VALUE_CHARS]


def _bare_boolean(clauses: list[tuple[list[Token], str]]) -> bool | None:
    if not clauses:
        return None
    toks = clauses[0][0]
    words = [t.text for t in toks if t.kind == "word"]
    if not words or len(toks) > 6:
        return None
    if words[0] in _NO_WORDS or "нет" in words or "не" in words or "no" in words:
        return False
    if words[0] in _YES_WORDS or any(w in _YES_WORDS for w in words):
        return True
    return None


def extract(
    text: str, fields: list[dict[str, Any]], *, awaiting: list[str] | None = None, deadline: float | None = None
) -> Extraction:
    """Understand one client message against the tenant's qualification fields.

    `awaiting` are the keys the AI asked for last turn; they let bare answers («5», «да», «Ерлан») land.
    `deadline` (a time.monotonic() value) is checked between stages: past it, BrainTimeout.
    """
    awaiting = list(awaiting or [])
    ex = Extraction(language=detect_language(text))
    if not text or not text.strip():
        ex.off_topic = True
        return ex
    check_deadline(deadline)
    low, tokens = _tokenise(text)
    clauses = _clauses(tokens)
    check_deadline(deadline)
    by_key = {f.get("key"): f for f in fields if f.get("key")}

    m = _EMAIL_RE.search(text)
    if m:
        ex.email = m.group(0)
        for k, f in by_key.items():
            if "email" in k or "почт" in str(f.get("label", "")).lower():
                ex.data[k] = ex.email

    # Intents (call requests are ignored when negated: «не звоните»).
    many_words = len(low.split()) > 3
    for intent, pat in _INTENT_RES.items():
        for im in pat.finditer(low):
            if intent == "call_request" and _negated_call(low, im):
                continue
            if (
                intent == "human_request"
                and im.group(0) in ("human", "operator")
                and many_words
                # The words just before, not the whole text before: "human human …" would rescan it per match.
                and not _HUMAN_LEAD_IN_RE.search(low[max(0, im.start() - 100) : im.start()])
            ):
                continue
            ex.intents.add(intent)
            ex.quotes.setdefault(intent, _sentence_around(text, im.start(), im.end()))
            break
    if "refusal" not in ex.intents and _THINKING_RE.search(low[:CUE_CHARS]):
        # «спасибо, подумаю»: interest cooled, not a refusal — the engine lowers the temperature on it.
        ex.intents.add("thinking")
        tm = _THINKING_RE.search(low[:CUE_CHARS])
        ex.quotes.setdefault("thinking", _sentence_around(text, tm.start(), tm.end()) if tm else text.strip())
    if _NO_THANKS_RE.fullmatch(low):
        ex.intents.add("refusal")
        ex.quotes["refusal"] = text.strip()

    check_deadline(deadline)

    # Preferred time: only day/hour-level phrases, kept in the client's words.
    spans = [(tm.start(), tm.end()) for tm in _TIME_PHRASE_RE.finditer(low)]
    if spans:
        bare_parts = [(s, e) for s, e in spans if not _PART_OF_DAY_RE.fullmatch(low[s:e])]
        if bare_parts or "preferred_time" in awaiting:
            # As many phrases as the lead card keeps (a text of 1,000 «завтра» is not a time to echo back).
            kept, size = [], 0
            for s, e in spans:
                if kept and size + e - s > TIME_CHARS:
                    break
                kept.append(text[s:e])
                size += e - s + 1
            ex.preferred_time = " ".join(kept).strip()

    check_deadline(deadline)

    # Numbers consumed by structured values first (dimensions, money), then keyword-bound counts.
    for f in fields:
        if f.get("type") == "dimensions":
            dims, q = _extract_dimensions(clauses, text)
            if dims:
                ex.data[f["key"]] = dims
                ex.quotes[f["key"]] = q
    money_fields = [f for f in fields if f.get("type") == "number" and _is_money_field(f)]
    if money_fields:
        val, q = _extract_money(clauses, text)
        if val is not None:
            ex.data[money_fields[0]["key"]] = _as_number(val)
            ex.quotes[money_fields[0]["key"]] = q
    number_fields = [f for f in fields if f.get("type") == "number" and f["key"] not in ex.data]
    if number_fields:
        groups = {f["key"]: field_keywords(f) for f in number_fields}
        for toks, _ in clauses:
            for key, (val, tok) in _bind_numbers(toks, groups).items():
                if key in ex.data:
                    continue
                if key in ("company_size", "windows", "doors") and (val < 0 or not float(val).is_integer()):
                    continue
                ex.data[key] = _as_number(val)
                ex.quotes[key] = _clause_text(text, toks)
                tok.used = True
        # Bare numbers answer the number fields we asked for, in order («5», «5 и 2»).
        asked = [k for k in awaiting if k in groups and k not in ex.data]
        free = [t for t in tokens if t.kind == "num" and not t.used]
        if asked and free and len(free) <= len(asked):
            for key, tok in zip(asked, free, strict=False):
                ex.data[key] = _as_number(tok.value or 0)
                ex.quotes[key] = text.strip()
                tok.used = True

    # Bare «10 12 3» answers a dimensions question only when nothing else claimed the numbers; a lone «3 м» / «2,7»
    # is the height (nobody gives a house's length alone).
    for f in fields:
        if f.get("type") == "dimensions" and f["key"] in awaiting and f["key"] not in ex.data:
            nums = [t for t in tokens if t.kind == "num" and not t.used]
            if len(nums) == 1 and 2 <= (nums[0].value or 0) <= 6 and len(tokens) <= 4:
                ex.data[f["key"]] = {"height": _as_number(nums[0].value or 0)}
                ex.quotes[f["key"]] = text.strip()
                nums[0].used = True
                continue
            if 2 <= len(nums) <= 3 and all(0.5 <= (t.value or 0) <= 300 for t in nums):
                ex.data[f["key"]] = {
                    k: _as_number(t.value or 0) for k, t in zip(("length", "width", "height"), nums, strict=False)
                }
                ex.quotes[f["key"]] = text.strip()
                for t in nums:
                    t.used = True

    for f in fields:
        check_deadline(deadline)
        key, ftype = f.get("key"), f.get("type", "text")
        if not key or key in ex.data:
            continue
        if ftype == "boolean":
            val, q = _extract_boolean(f, clauses, text)
            if (
                val is None
                and key in awaiting
                and not [
                    k for k in awaiting if by_key.get(k, {}).get("type") == "boolean" and k != key and k not in ex.data
                ]
                # «yes, we have drawings» answers the project, not the question we asked about the foundation
                and not any(
                    g.get("type") == "boolean" and g is not f and _extract_boolean(g, clauses, text)[0] is not None
                    for g in fields
                )
            ):
                val, q = _bare_boolean(clauses), text.strip()
            if val is not None:
                ex.data[key], ex.quotes[key] = val, q
        elif ftype == "choice":
            val, q = _extract_choice(f, low)
            if val is not None:
                ex.data[key], ex.quotes[key] = val, q
        elif ftype == "text" and not _is_city_field(f):
            if key == "needs" or _NEEDS_LABEL_RE.search(str(f.get("label", "")).lower()):
                val = _extract_needs(text, low)
                if val:
                    ex.data[key], ex.quotes[key] = val, val

    check_deadline(deadline)
    # City: gazetteer, then «город X» / a bare capitalised word when we asked for the city.
    found = find_city(text, bare_ok="city" in awaiting and len(tokens) <= 3)
    if found:
        ex.city = found[0]
        ex.quotes["city"] = _sentence_around(text, found[1], found[2])
    else:
        cm = _CITY_AFTER_WORD_RE.search(text)
        if cm and _is_name_word(cm.group(1), cm.group(1).lower()):
            ex.city = _title(cm.group(1))
            ex.quotes["city"] = cm.group(0).strip()
        elif "city" in awaiting and len(tokens) <= 3:
            words = [t for t in tokens if t.kind == "word"]
            if len(words) == 1 and text[words[0].start].isupper() and _is_name_word(words[0].text, words[0].text):
                ex.city = _title(text[words[0].start : words[0].end])
                ex.quotes["city"] = text.strip()
    if ex.city:
        for f in fields:
            if _is_city_field(f):
                ex.data[f["key"]] = ex.city
                ex.quotes[f["key"]] = ex.quotes["city"]

    check_deadline(deadline)
    name = _extract_name(text, clauses, awaiting)
    if name and name[0] != ex.city:
        ex.name = name[0]
        ex.quotes["name"] = name[1]

    # Free-text answers to a question we asked about a custom text field.
    said_other = bool(ex.data or ex.intents or ex.name or ex.city)
    for key in awaiting:
        f = by_key.get(key)
        if (
            f
            and f.get("type") == "text"
            and key not in ex.data
            and not _is_city_field(f)
            and not said_other
            and not text.strip().endswith("?")
        ):  # a question back is not an answer
            value = text.strip()[:TEXT_VALUE_CHARS]
            if len(value) >= 2:
                ex.data[key], ex.quotes[key] = value, value

    ex.off_topic = not (
        ex.data or ex.intents or ex.name or ex.city or ex.email or (ex.preferred_time and "preferred_time" in awaiting)
    )
    return ex


_NEEDS_LABEL_RE = re.compile(r"need|потребност|задач|запрос")
_CITY_AFTER_WORD_RE = re.compile(r"(?:^|\s)(?:город|г\.|city of|town of)\s*([A-ZА-ЯЁ][\w-]+)")
_HUMAN_LEAD_IN_RE = re.compile(r"(talk|speak|chat|real|need|want|get|with|to|a|an|live)\s+(a\s+)?$")
_NO_THANKS_RE = re.compile(r"(?<!\s)\s*(нет|no)[,.!\s]*(спасибо|thanks|thank you)[.!\s]*")
_PART_OF_DAY_RE = re.compile(r"morning|afternoon|evening")


def _sentence_around(text: str, start: int, end: int) -> str:
    s = max(text.rfind(c, 0, start) for c in ".!?\n") + 1
    ends = [i for i in (text.find(c, end) for c in ".!?\n") if i != -1]
    e = min(ends) if ends else len(text)
    return text[s:e].strip()


# ---------------------------------------------------------------------------------------------------------
# Conversation cues (issue 14): what the planner needs beyond the fields. All regexes read at most CUE_CHARS.

CUE_CHARS = 2000
_THINKING_RE = re.compile(
    r"(?<![\w-])(подумаю|подумаем|надо подумать|нужно подумать|хочу подумать|дайте подумать|посоветуюсь|"
    r"посоветуемся|обсужу с (женой|мужем|семьей|семьёй|партнером|партнёром)|я подумаю|мы подумаем|"
    r"ойланамын|ойланып|"
    r"i'?ll think|i will think|we'?ll think|let me think|need to think|think it over|think about it|"
    r"talk it over|discuss it with my)(?![\w-])"
)
_PACE_RE = re.compile(
    r"(?<![\w-])(не сейчас|пока не (звоните|надо звонить|нужно звонить)|подождите со звонк\w*|"
    r"(давайте |лучше |можно )?(письменно|в переписке|по переписке|перепиской|в чате|текстом)|"
    r"без звонк\w*|не (звоните|надо звонить|нужно звонить|могу говорить|удобно говорить)|"
    r"не до звонк\w*|(давайте|лучше) (напишите|пишите)|со звонком (подождем|подождём|пока не надо)|"
    r"not now|not right now|no calls?|(don't|do not|please don't) call|let'?s text|text me|"
    r"(in|by|over) (writing|text|chat)|just text|can'?t talk|rather (text|write|chat)|wait with the call)(?![\w-])"
)
_CONTENT_RE = re.compile(
    r"(?<![\w-])(фото\w*|фотк\w*|картинк\w*|каталог\w*|прайс\w*|пример\w*|портфолио|видео\w*|"
    r"презентаци\w*|буклет\w*|работ(ы|ах) (ваши|покажите|посмотреть)|ваши работы|"
    r"photos?|pictures?|pics|catalog(ue)?s?|price ?list|brochure|examples?|portfolio|videos?|"
    r"presentation|your (work|projects))(?![\w-])"
)
_CONTENT_ASK_RE = re.compile(
    r"(?<![\w-])(покаж\w*|пришлите|пришлете|пришлёте|скиньте|скинете|отправьте|отправите|вышлите|"
    r"посмотреть|глянуть|есть ли|можно|хочу увидеть|"
    r"show|send me|send us|share|see|can i|could you|do you have)(?![\w-])|\?"
)
_CONTENT_OWN_RE = re.compile(r"(?<![\w-])(скину|пришлю|отправлю|вышлю|i'?ll send|i can send|i will send)(?![\w-])")
_QUESTION_RE = re.compile(
    r"\?|(?<![\w-])(сколько|какой|какая|какие|каких|какое|как долго|когда|где|почему|зачем|можно ли|есть ли|"
    r"делаете ли|возите ли|доставляете ли|входит ли|а если|"
    r"how|what|which|when|where|why|do you|can you|is there|are there|does it)(?![\w-])"
)
CONTENT_KINDS = {
    "image": (
        "фото",
        "фотк",
        "картин",
        "photo",
        "picture",
        "pics",
        "пример",
        "example",
        "портфолио",
        "portfolio",
        "работ",
        "work",
        "project",
    ),
    "video": ("видео", "video"),
    "file": ("каталог", "catalog", "прайс", "price", "презентац", "presentation", "буклет", "brochure"),
}


def wants_text_only(text: str) -> bool:
    """«не сейчас», «подождите со звонком», «давайте письменно», «let's text»: no call offers until they ask."""
    return bool(_PACE_RE.search(text[:CUE_CHARS].lower().replace("ё", "е")))


def asks_content(text: str) -> list[str]:
    """The content words of a request for photos / a catalogue / a price list / examples ([] when none)."""
    low = text[:CUE_CHARS].lower().replace("ё", "е")
    words = [m.group(0) for m in _CONTENT_RE.finditer(low)]
    if words and _CONTENT_ASK_RE.search(low) and not _CONTENT_OWN_RE.search(low):
        return words
    return []


def is_question(text: str) -> bool:
    return bool(_QUESTION_RE.search(text[:CUE_CHARS].lower().replace("ё", "е")))


# --- When: «завтра в 11», «в пятницу после обеда», «tomorrow at 3pm» against "now" in the tenant's zone ---------

_WEEKDAYS = {
    "понедельник": 0,
    "вторник": 1,
    "среду": 2,
    "среда": 2,
    "четверг": 3,
    "пятницу": 4,
    "пятница": 4,
    "субботу": 5,
    "суббота": 5,
    "воскресенье": 6,
    "monday": 0,
    "tuesday": 1,
    "wednesday": 2,
    "thursday": 3,
    "friday": 4,
    "saturday": 5,
    "sunday": 6,
}
_WHEN_DAY_RE = re.compile(
    r"(?<![\w-])(послезавтра|day after tomorrow|завтра|tomorrow|сегодня|today|tonight|"
    + "|".join(_WEEKDAYS)
    + r")(?![\w-])"
)
_WHEN_HOUR_RE = re.compile(
    r"(?<![\w-])(?:в|к|на|около|at|around|by)\s{1,3}(\d{1,2})(?:[:.](\d{2}))?\s{0,2}(am|pm|утра|дня|вечера|ч\b|час\w{0,3})?"
    r"|(?<![\w:.-])(\d{1,2})(?:[:.](\d{2}))?\s{0,2}(am|pm)(?![\w-])"
    r"|(?<![\w:.-])(\d{1,2}):(\d{2})(?![\w-])"
)
_WHEN_PART_RE = re.compile(
    r"(?<![\w-])(после обеда|во второй половине дня|afternoon|after lunch|утром|с утра|в первой половине дня|morning|"
    r"вечером|ближе к вечеру|evening|в обед|днем|днём)(?![\w-])"
)
_PARTS = {
    "после обеда": (13, 18),
    "во второй половине дня": (13, 18),
    "afternoon": (12, 18),
    "after lunch": (13, 18),
    "утром": (8, 12),
    "с утра": (8, 12),
    "в первой половине дня": (8, 13),
    "morning": (8, 12),
    "вечером": (17, 21),
    "ближе к вечеру": (16, 21),
    "evening": (17, 21),
    "в обед": (12, 14),
    "днем": (11, 17),
    "днём": (11, 17),
}


@dataclass(frozen=True)
class When:
    """A time the client named: a day (or None = any), and an hour window [hour_from, hour_to)."""

    day: Any  # datetime.date | None
    hour_from: int
    hour_to: int
    exact: bool  # an hour was named («в 11»), not only a part of the day


def parse_when(text: str, now: Any) -> When | None:
    """The day and hours the client named, relative to `now` (an aware datetime in the tenant's zone)."""
    low = text[:CUE_CHARS].lower().replace("ё", "е")
    day = None
    dm = _WHEN_DAY_RE.search(low)
    if dm:
        w = dm.group(1)
        base = now.date()
        if w in ("послезавтра", "day after tomorrow"):
            day = base + timedelta(days=2)
        elif w in ("завтра", "tomorrow"):
            day = base + timedelta(days=1)
        elif w in ("сегодня", "today", "tonight"):
            day = base
        else:
            ahead = (_WEEKDAYS[w] - base.weekday()) % 7 or 7
            day = base + timedelta(days=ahead)
    hm = _WHEN_HOUR_RE.search(low)
    if hm:
        g = hm.groups()
        hour_s, suffix = (g[0], g[2]) if g[0] else ((g[3], g[5]) if g[3] else (g[6], None))
        hour = int(hour_s)
        if suffix in ("pm", "дня", "вечера") and hour < 12:
            hour += 12
        elif suffix is None and 1 <= hour <= 7:
            hour += 12  # «в 3» in business talk is 15:00
        if 0 <= hour <= 23:
            return When(day, hour, hour + 1, True)
    pm = _WHEN_PART_RE.search(low)
    if pm:
        lo, hi = _PARTS[pm.group(1)]
        return When(day, lo, hi, False)
    if day is not None:
        return When(day, 0, 24, False)
    return None
