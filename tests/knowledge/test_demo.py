"""The demo tenant ships a credible construction knowledge base (once); other tenants start with an empty one."""

from django_tenants.utils import tenant_context

from buildcrm.demo_knowledge import seed_demo_knowledge
from followups.models import Content
from knowledge.selectors import knowledge_for_brain, relevant_entries


def test_demo_knowledge_is_seeded_once_with_ru_and_en(tenant_a, tenant_b):
    with tenant_context(tenant_a):
        made = seed_demo_knowledge()
        assert seed_demo_knowledge() == 0  # idempotent
        base = knowledge_for_brain()
    assert made == len(base) and len(base.qas) >= 12 and len(base.prices) >= 8 and len(base.terms) >= 3
    assert all(q.answer_en for q in base.qas) and all(t.text_en for t in base.terms)
    assert all(p.currency == "KZT" for p in base.prices)
    assert any(p.unit == "м²" and p.price_from and p.price_to for p in base.prices)
    almaty = next(d for d in base.delivery if d.city == "Алматы")
    assert "склад" in almaty.text and "Рыскулова" in almaty.text and almaty.text_en
    other = next(d for d in base.delivery if d.city == "")
    assert "по всему Казахстану" in other.text
    with tenant_context(tenant_a):  # the content library: a price list and the stages of the work, RU and EN, once
        titles = list(Content.objects.filter(active=True).values_list("title", "language"))
        assert ("Прайс-лист 2026", "ru") in titles and ("Price list 2026", "en") in titles
        seed_demo_knowledge()
        assert Content.objects.count() == len(titles)
    with tenant_context(tenant_b):  # a tenant provisioned without the demo: an empty base
        assert len(knowledge_for_brain()) == 0


def test_relevant_entries_for_typical_questions(tenant_a):
    with tenant_context(tenant_a):
        seed_demo_knowledge()
        windows = relevant_entries("Какие окна у вас ставят?", limit=3)
        price = relevant_entries("Сколько стоит дом под ключ за м2?", limit=3)
        delivery = relevant_entries("А доставка в Костанай есть?", limit=3)
        almaty = relevant_entries("Мы в Алматы, можно забрать самим?", limit=3)
        english = relevant_entries("How long does it take to build? Any warranty?", limit=4)
        nothing = relevant_entries("ок", limit=3)
    assert windows[0].startswith("Q&A — Какие окна вы ставите?")
    assert any("Дом из СИП-панелей под ключ: 160 000–220 000 KZT / м²" in line for line in price)
    assert delivery[0].startswith("Delivery (other cities): Доставляем домокомплекты по всему Казахстану")
    assert almaty[0].startswith("Delivery (Алматы): У нас склад в Алматы")
    assert any("Сколько времени строится дом?" in line for line in english)
    assert any("Какая гарантия?" in line for line in english)
    assert nothing == []
