"""The knowledge base API: role matrix (owners and heads write, managers read), another tenant sees nothing,
bad input is a 400 naming the field, and the brain's cached `Knowledge` follows every write."""

from __future__ import annotations

import pytest
from django_tenants.utils import tenant_context

from knowledge.models import QA
from knowledge.selectors import knowledge_for_brain

QA_BODY = {
    "question": "Какие окна ставите?",
    "answer": "Пластиковые, двухкамерные.",
    "answer_en": "PVC double-glazed.",
    "keywords": ["Окна", " окна ", "window"],
}
BODIES = {
    "qa": QA_BODY,
    "prices": {
        "item": "Дом-комплект",
        "unit": "м²",
        "price_from": 85000,
        "price_to": 120000,
        "currency": "kzt",
        "keywords": ["цена", "м2"],
    },
    "delivery": {"city": "Алматы", "text": "Самовывоз со склада", "text_en": "Pickup from the warehouse"},
    "terms": {"title": "Гарантия", "text": "5 лет", "keywords": ["гарантия"]},
}


@pytest.mark.parametrize("kind", list(BODIES))
@pytest.mark.parametrize("role, status", [("owner", 201), ("head", 201), ("manager", 403), (None, 401)])
def test_create_role_matrix(tenant_a, client_for, kind, role, status):
    response = client_for(tenant_a, role).post(f"/api/knowledge/{kind}/", BODIES[kind], format="json")
    assert response.status_code == status, response.content


@pytest.mark.parametrize("kind", list(BODIES))
@pytest.mark.parametrize(
    "role, read, write",
    [("owner", 200, 200), ("head", 200, 200), ("manager", 200, 403), ("manager2", 200, 403), (None, 401, 401)],
)
def test_read_update_delete_role_matrix(tenant_a, client_for, kind, role, read, write):
    entry = client_for(tenant_a, "owner").post(f"/api/knowledge/{kind}/", BODIES[kind], format="json").json()
    api = client_for(tenant_a, role)
    assert api.get("/api/knowledge/").status_code == read
    assert api.get(f"/api/knowledge/{kind}/").status_code == read
    assert api.get(f"/api/knowledge/{kind}/{entry['id']}/").status_code == read
    change = {"delivery": {"text": "Со склада на Рыскулова"}}.get(kind, {"keywords": ["новое"]})
    assert api.patch(f"/api/knowledge/{kind}/{entry['id']}/", change, format="json").status_code == write
    assert api.delete(f"/api/knowledge/{kind}/{entry['id']}/").status_code == (204 if write == 200 else write)


def test_values_are_normalised(tenant_a, client_for):
    api = client_for(tenant_a, "owner")
    qa = api.post("/api/knowledge/qa/", QA_BODY, format="json").json()
    assert qa["keywords"] == ["окна", "window"]
    price = api.post("/api/knowledge/prices/", BODIES["prices"], format="json").json()
    assert price["currency"] == "KZT" and price["price_from"] == 85000 and price["price_to"] == 120000
    everything = api.get("/api/knowledge/").json()
    assert [q["question"] for q in everything["qa"]] == ["Какие окна ставите?"]
    assert [p["item"] for p in everything["prices"]] == ["Дом-комплект"]


def test_other_tenant_sees_nothing(tenant_a, tenant_b, client_for):
    entry = client_for(tenant_a, "owner").post("/api/knowledge/qa/", QA_BODY, format="json").json()
    other = client_for(tenant_b, "owner")
    assert other.get(f"/api/knowledge/qa/{entry['id']}/").status_code == 404
    assert other.patch(f"/api/knowledge/qa/{entry['id']}/", {"answer": "x"}, format="json").status_code == 404
    assert other.delete(f"/api/knowledge/qa/{entry['id']}/").status_code == 404
    assert other.get("/api/knowledge/qa/").json() == []
    assert other.get("/api/knowledge/").json()["qa"] == []
    stolen = client_for(tenant_a, "owner")
    stolen.defaults["HTTP_HOST"] = f"{tenant_b.slug}.localhost"
    assert stolen.get("/api/knowledge/").status_code == 401
    with tenant_context(tenant_b):
        assert len(knowledge_for_brain()) == 0
    with tenant_context(tenant_a):
        assert QA.objects.filter(pk=entry["id"], answer=QA_BODY["answer"]).exists()


@pytest.mark.parametrize(
    "kind, body, key",
    [
        ("qa", {"question": "Окна?", "answer": " "}, "answer"),
        ("qa", {"answer": "Да"}, "question"),
        ("qa", {**QA_BODY, "keywords": "окна"}, "keywords"),
        ("qa", {**QA_BODY, "keywords": ["x" * 51]}, "keywords"),
        ("qa", {**QA_BODY, "keywords": [f"k{i}" for i in range(31)]}, "keywords"),
        ("qa", {**QA_BODY, "question": "x" * 301}, "question"),
        ("qa", {**QA_BODY, "answer": "\x00"}, None),
        ("prices", {"item": "Дом", "price_from": -1}, "price_from"),
        ("prices", {"item": "Дом", "price_from": 200, "price_to": 100}, "price_to"),
        ("prices", {"item": "Дом", "price_to": 100}, "price_from"),
        ("prices", {"item": "Дом", "price_from": "100"}, "price_from"),
        ("prices", {"item": "Дом", "price_from": 1e20}, "price_from"),
        ("prices", {"item": "Дом", "currency": "тенге"}, "currency"),
        ("delivery", {"city": "Алматы"}, "text"),
        ("terms", {"title": "Оплата", "text": ""}, "text"),
    ],
)
def test_bad_input_is_400_naming_the_field(tenant_a, client_for, kind, body, key):
    response = client_for(tenant_a, "owner").post(f"/api/knowledge/{kind}/", body, format="json")
    assert response.status_code == 400, response.content
    if key:
        assert key in response.json(), response.content


def test_one_rule_per_city_and_one_for_every_other_city(tenant_a, client_for):
    api = client_for(tenant_a, "owner")
    assert api.post("/api/knowledge/delivery/", {"city": "Алматы", "text": "Склад"}, format="json").status_code == 201
    again = api.post("/api/knowledge/delivery/", {"city": " алматы ", "text": "Ещё"}, format="json")
    assert again.status_code == 400 and "city" in again.json()
    assert api.post("/api/knowledge/delivery/", {"text": "Доставка по Казахстану"}, format="json").status_code == 201
    assert api.post("/api/knowledge/delivery/", {"city": "", "text": "Ещё"}, format="json").status_code == 400


def test_patch_checks_the_merged_price_range(tenant_a, client_for):
    api = client_for(tenant_a, "owner")
    price = api.post("/api/knowledge/prices/", BODIES["prices"], format="json").json()
    response = api.patch(f"/api/knowledge/prices/{price['id']}/", {"price_from": 200000}, format="json")
    assert response.status_code == 400 and "price_to" in response.json()
    assert api.patch(f"/api/knowledge/prices/{price['id']}/", {"price_to": None}, format="json").status_code == 200


def test_unknown_id_is_404(tenant_a, client_for):
    api = client_for(tenant_a, "owner")
    assert api.get("/api/knowledge/terms/999999/").status_code == 404
    assert api.patch("/api/knowledge/terms/999999/", {"text": "x"}, format="json").status_code == 404


def test_the_brain_reads_every_write(tenant_a, client_for):
    api = client_for(tenant_a, "owner")
    entry = api.post("/api/knowledge/qa/", QA_BODY, format="json").json()
    with tenant_context(tenant_a):
        assert [q.answer for q in knowledge_for_brain().qas] == [QA_BODY["answer"]]
    api.patch(f"/api/knowledge/qa/{entry['id']}/", {"answer": "Деревянные евроокна."}, format="json")
    with tenant_context(tenant_a):
        assert [q.answer for q in knowledge_for_brain().qas] == ["Деревянные евроокна."]
    api.delete(f"/api/knowledge/qa/{entry['id']}/")
    with tenant_context(tenant_a):
        assert knowledge_for_brain().qas == ()
