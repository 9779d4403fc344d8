"""The demo tenant's knowledge base (issue 14): what a Kazakh SIP/frame house builder tells its clients — Q&A, a price
list per m² in KZT, delivery (Almaty → the warehouse, other cities → delivery across Kazakhstan) and terms, in Russian
with English variants, and a small content library (price list, the stages of the work). Seeded by
`manage.py seed_demo` once; other tenants start with an empty base."""

from __future__ import annotations

import logging
from decimal import Decimal

from followups.models import Content
from knowledge.models import QA, DeliveryRule, PriceItem, Term
from knowledge.services import knowledge_replace

log = logging.getLogger("buildcrm.knowledge")

WAREHOUSE = "Алматы, ул. Рыскулова, 232/1"


def _qa(question: str, answer: str, answer_en: str, *keywords: str) -> dict:
    return {"question": question, "answer": answer, "answer_en": answer_en, "keywords": list(keywords)}


DEMO_QA = [
    _qa(
        "Какие окна вы ставите?",
        "Ставим окна из ПВХ-профиля REHAU или VEKA с двухкамерным энергосберегающим стеклопакетом. По желанию — "
        "деревянные евроокна или панорамное остекление.",
        "We fit REHAU or VEKA PVC windows with double-chamber energy-saving glazing; wooden or panoramic windows "
        "on request.",
        "окна",
        "окно",
        "стеклопакет",
        "window",
        "windows",
    ),
    _qa(
        "Сколько времени строится дом?",
        "Домокомплект изготавливаем за 10–14 дней. Коробку дома 100–150 м² собираем за 3–4 недели, дом под ключ "
        "сдаём за 2,5–4 месяца — точный график фиксируем в договоре.",
        "The house kit is made in 10–14 days; a 100–150 m² shell goes up in 3–4 weeks and a turnkey house takes "
        "2.5–4 months — the exact schedule is fixed in the contract.",
        "срок",
        "сроки",
        "сколько времени",
        "как долго",
        "how long",
        "build time",
        "timeline",
    ),
    _qa(
        "Какой нужен фундамент?",
        "Дом из СИП-панелей лёгкий, поэтому подходит мелкозаглублённый ленточный фундамент, сваи или утеплённая "
        "шведская плита (УШП). Тип подбираем после осмотра участка, замер бесплатный.",
        "A SIP house is light, so a shallow strip foundation, screw piles or an insulated slab will do; we choose "
        "after seeing the plot, the survey visit is free.",
        "фундамент",
        "сваи",
        "плита",
        "foundation",
    ),
    _qa(
        "Какая гарантия?",
        "Гарантия 10 лет на конструктив дома и 2 года на отделочные и инженерные работы — прописываем в договоре.",
        "10 years on the structure and 2 years on finishing and utilities, written into the contract.",
        "гарантия",
        "гарантию",
        "warranty",
        "guarantee",
    ),
    _qa(
        "Как проходит оплата?",
        "Оплата поэтапно: 30% предоплата на материалы, 40% после сборки коробки, 30% после сдачи дома. Можно "
        "переводом, через Kaspi или наличными в офисе.",
        "Payment in stages: 30% upfront for materials, 40% when the shell is up, 30% on handover — by transfer, "
        "Kaspi or cash at the office.",
        "оплата",
        "оплатить",
        "предоплата",
        "платить",
        "payment",
        "pay",
    ),
    _qa(
        "Из каких материалов строите?",
        "Стены и перекрытия — СИП-панели на плите OSB-3 Kronospan с пенополистиролом ПСБ-С 25, каркас из сосны "
        "камерной сушки. Все материалы с сертификатами.",
        "Walls and floors are SIP panels of Kronospan OSB-3 with EPS 25 insulation on a kiln-dried pine frame; "
        "every material is certified.",
        "материал",
        "материалы",
        "сип",
        "osb",
        "material",
        "materials",
    ),
    _qa(
        "Можно ли строить зимой?",
        "Да. Сборка СИП-дома идёт без мокрых процессов, работаем до −25 °C. Зимой обычно ставим свайный фундамент.",
        "Yes: SIP assembly has no wet processes, we work down to −25 °C; in winter we usually use piles.",
        "зимой",
        "зима",
        "мороз",
        "winter",
    ),
    _qa(
        "Есть ли рассрочка или ипотека?",
        "Есть рассрочка на домокомплект через банк-партнёр и помощь с ипотекой: подскажем банк и соберём документы "
        "по смете. Условия банк сообщает после заявки.",
        "There is an instalment plan for the house kit through a partner bank, and we help with a mortgage "
        "application; the bank names its terms after the application.",
        "рассрочка",
        "ипотека",
        "кредит",
        "instalment",
        "mortgage",
        "loan",
    ),
    _qa(
        "Тёплый ли дом из СИП-панелей?",
        "Да: стена из СИП 174 мм по теплосбережению сопоставима с кирпичной кладкой толщиной около полутора "
        "метров, отопление обходится в 2–3 раза дешевле.",
        "Yes: a 174 mm SIP wall insulates about as well as a 1.5 m brick wall, so heating costs 2–3 times less.",
        "тёплый",
        "теплый",
        "утепление",
        "отопление",
        "warm",
        "insulation",
        "heating",
    ),
    _qa(
        "Можно посмотреть готовые дома?",
        f"Да, выставочный дом стоит у нас на складе: {WAREHOUSE}, пн–сб с 9:00 до 18:00. Также пришлём фото и "
        "видео построенных домов.",
        "Yes, our show house is at the Almaty warehouse (Ryskulov St 232/1, Mon–Sat 9:00–18:00); we can also send "
        "photos and videos of finished houses.",
        "посмотреть",
        "примеры",
        "выставочный",
        "фото",
        "show house",
        "examples",
        "photos",
    ),
    _qa(
        "Делаете проект дома?",
        "Да. Типовые проекты из каталога — бесплатно, индивидуальный проект — от 2 500 ₸ за м², его стоимость "
        "засчитываем при заказе дома.",
        "Yes: catalogue designs are free, a custom design is from 2,500 KZT per m² and is credited when you order "
        "the house.",
        "проект",
        "проекта",
        "планировка",
        "design",
        "project",
        "layout",
    ),
    _qa(
        "Какая высота потолков?",
        "Стандартная высота этажа — 2,8 м, по желанию делаем 3 м и выше, а также второй свет.",
        "The standard storey height is 2.8 m; 3 m or more, and double-height rooms, on request.",
        "высота",
        "потолки",
        "потолок",
        "ceiling",
        "height",
    ),
    _qa(
        "Что входит в домокомплект?",
        "СИП-панели стен и перекрытий, брус обвязки, крепёж, монтажная пена и чертежи сборки с раскладкой панелей. "
        "Окна, двери и кровля — отдельными позициями.",
        "SIP panels for walls and floors, frame timber, fixings, foam and assembly drawings; windows, doors and "
        "roofing are separate items.",
        "домокомплект",
        "комплект",
        "входит",
        "kit",
        "included",
    ),
]

DEMO_PRICES = [
    {
        "item": "Домокомплект из СИП-панелей (стены и перекрытия)",
        "unit": "м²",
        "price_from": Decimal(45000),
        "price_to": Decimal(60000),
        "keywords": ["домокомплект", "комплект", "сип", "цена", "стоимость", "kit", "price"],
        "note": "за м² общей площади, без фундамента и кровли",
    },
    {
        "item": "Дом из СИП-панелей под ключ",
        "unit": "м²",
        "price_from": Decimal(160000),
        "price_to": Decimal(220000),
        "keywords": ["под ключ", "цена", "стоимость", "сколько стоит", "turnkey", "price"],
        "note": "с фундаментом, кровлей, окнами, дверями и чистовой отделкой",
    },
    {
        "item": "Каркасный дом под ключ",
        "unit": "м²",
        "price_from": Decimal(180000),
        "price_to": Decimal(250000),
        "keywords": ["каркасный", "каркас", "frame house"],
    },
    {
        "item": "Коробка дома с монтажом (тёплый контур)",
        "unit": "м²",
        "price_from": Decimal(90000),
        "price_to": Decimal(120000),
        "keywords": ["коробка", "тёплый контур", "монтаж", "shell"],
    },
    {
        "item": "Фундамент: лента или сваи",
        "unit": "м²",
        "price_from": Decimal(18000),
        "price_to": Decimal(28000),
        "keywords": ["фундамент", "сваи", "foundation"],
        "note": "за м² площади застройки",
    },
    {
        "item": "Окно ПВХ двухкамерное 1,2×1,4 м с монтажом",
        "unit": "шт",
        "price_from": Decimal(65000),
        "price_to": Decimal(85000),
        "keywords": ["окна", "окно", "window"],
    },
    {
        "item": "Входная дверь утеплённая",
        "unit": "шт",
        "price_from": Decimal(120000),
        "price_to": Decimal(250000),
        "keywords": ["дверь", "двери", "door"],
    },
    {
        "item": "Кровля из металлочерепицы с монтажом",
        "unit": "м²",
        "price_from": Decimal(9000),
        "price_to": Decimal(13000),
        "keywords": ["кровля", "крыша", "roof"],
    },
    {
        "item": "Индивидуальный проект",
        "unit": "м²",
        "price_from": Decimal(2500),
        "price_to": None,
        "keywords": ["проект", "design"],
        "note": "засчитывается при заказе дома",
    },
    {
        "item": "Выезд замерщика",
        "unit": "",
        "price_from": Decimal(0),
        "price_to": None,
        "keywords": ["замер", "замерщик", "выезд"],
        "note": "бесплатно по Алматы и области",
    },
]

DEMO_DELIVERY = [
    {
        "city": "Алматы",
        "text": f"У нас склад в Алматы: {WAREHOUSE} (пн–сб 9:00–18:00). Домокомплект можно забрать самим или "
        "привезём по городу и области — от 25 000 ₸.",
        "text_en": "Our warehouse is in Almaty (Ryskulov St 232/1, Mon–Sat 9:00–18:00): pick the kit up yourself or "
        "we deliver in the city and region from 25,000 KZT.",
    },
    {
        "city": "",
        "text": "Доставляем домокомплекты по всему Казахстану своим транспортом; стоимость считаем по расстоянию, "
        "монтажная бригада выезжает на объект.",
        "text_en": "We deliver house kits across Kazakhstan with our own trucks; the price depends on the distance, "
        "and our assembly crew travels to the site.",
    },
]

DEMO_TERMS = [
    {
        "title": "Оплата",
        "keywords": ["оплата", "предоплата", "payment"],
        "text": "30% предоплата, 40% после сборки коробки, 30% после сдачи; цена фиксируется в договоре.",
        "text_en": "30% upfront, 40% when the shell is up, 30% on handover; the price is fixed in the contract.",
    },
    {
        "title": "Гарантия",
        "keywords": ["гарантия", "warranty"],
        "text": "10 лет на конструктив, 2 года на отделку и инженерные системы.",
        "text_en": "10 years on the structure, 2 years on finishing and utilities.",
    },
    {
        "title": "Сроки",
        "keywords": ["сроки", "срок", "timeline"],
        "text": "Домокомплект — 10–14 дней, коробка — 3–4 недели, под ключ — 2,5–4 месяца; за просрочку по нашей "
        "вине — неустойка 0,1% в день.",
        "text_en": "Kit 10–14 days, shell 3–4 weeks, turnkey 2.5–4 months; a 0.1% a day penalty if we are late.",
    },
    {
        "title": "Замер и смета",
        "keywords": ["замер", "смета", "расчёт", "estimate"],
        "text": "Выезд замерщика бесплатный; смету присылаем в течение 2 рабочих дней после замера.",
        "text_en": "The survey visit is free; the estimate follows within 2 working days.",
    },
]


# The library's items the AI sends when a client asks for a price list or how the work goes (send_content).
DEMO_CONTENT = [
    {
        "type": "text",
        "title": "Прайс-лист 2026",
        "language": "ru",
        "tags": ["прайс", "цены", "стоимость"],
        "text": "Прайс-лист 2026 (за м²): домокомплект СИП — 45 000–60 000 ₸; коробка с монтажом — 90 000–120 000 ₸; "
        "дом под ключ — 160 000–220 000 ₸; каркасный под ключ — 180 000–250 000 ₸. Фундамент — 18 000–28 000 ₸ "
        "за м² застройки, окно ПВХ — от 65 000 ₸. Точную смету считаем после бесплатного замера.",
    },
    {
        "type": "text",
        "title": "Price list 2026",
        "language": "en",
        "tags": ["price", "prices", "cost"],
        "text": "Price list 2026 (per m²): SIP house kit 45,000–60,000 KZT; shell with assembly 90,000–120,000 KZT; "
        "turnkey house 160,000–220,000 KZT; turnkey frame house 180,000–250,000 KZT. Foundation 18,000–28,000 "
        "KZT per m² of footprint, a PVC window from 65,000 KZT. The exact estimate follows a free survey.",
    },
    {
        "type": "text",
        "title": "Как мы строим: этапы",
        "language": "ru",
        "tags": ["этапы", "примеры", "каталог"],
        "text": "1) Бесплатный замер и смета за 2 дня. 2) Договор и проект. 3) Домокомплект за 10–14 дней. "
        "4) Фундамент и сборка коробки за 3–4 недели. 5) Кровля, окна, двери, отделка. 6) Сдача дома, гарантия "
        "10 лет.",
    },
    {
        "type": "text",
        "title": "How we build: the stages",
        "language": "en",
        "tags": ["stages", "examples"],
        "text": "1) Free survey and an estimate in 2 days. 2) Contract and design. 3) House kit in 10–14 days. "
        "4) Foundation and the shell in 3–4 weeks. 5) Roof, windows, doors, finishing. 6) Handover with a "
        "10-year warranty.",
    },
]


def seed_demo_knowledge() -> int:
    """Seeds the current tenant's knowledge base once (nothing when it already has entries). Returns entries made."""
    if not Content.objects.exists():
        for item in DEMO_CONTENT:
            Content.objects.create(**item)
    if QA.objects.exists() or PriceItem.objects.exists() or DeliveryRule.objects.exists() or Term.objects.exists():
        log.info("demo knowledge already there: skipped")
        return 0
    return knowledge_replace(actor="system", qa=DEMO_QA, prices=DEMO_PRICES, delivery=DEMO_DELIVERY, terms=DEMO_TERMS)
