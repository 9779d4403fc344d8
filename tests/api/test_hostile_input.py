"""Malformed input is a 4xx `{"detail"}`, never a 500, for every operation of the tenant API, taken from its own
OpenAPI schema: NUL and over-long values in any query parameter (declared or not), ids that are not numbers or
beyond bigint in paths and queries, and in JSON bodies NUL or a lone surrogate in any string or key, wrong types,
numbers out of range, NaN / Infinity, 10,000-deep nesting, more than 1 MiB."""
from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from django_tenants.utils import tenant_context

from tests.conftest import PASSWORD, user_of
from tests.leads.conftest import make_lead

pytestmark = pytest.mark.django_db

BIG = "9" * 20  # beyond bigint
UNDECLARED = "x_unknown"
SOON = (datetime.now(UTC) + timedelta(days=30)).replace(microsecond=0).isoformat()  # a task's due time in range


def _schema() -> dict:
    from drf_spectacular.generators import SchemaGenerator

    return SchemaGenerator(urlconf="buildcrm.urls_tenant").get_schema(request=None, public=True)


SCHEMA = _schema()
OPERATIONS = [(method.upper(), path, operation) for path, item in SCHEMA["paths"].items()
              for method, operation in item.items()]
BODY_OPERATIONS = [(method, path, operation) for method, path, operation in OPERATIONS
                   if "application/json" in operation.get("requestBody", {}).get("content", {})]
IDS = [f"{method} {path}" for method, path, _ in OPERATIONS]
BODY_IDS = [f"{method} {path}" for method, path, _ in BODY_OPERATIONS]
# A body each operation accepts: every malformed case changes one field of it (or adds one), so that what is
# refused is that field, not a missing one.
VALID_BODIES = {
    "POST /api/auth/login/": {"email": "owner@alpha.test", "password": PASSWORD},
    "POST /api/auth/token/": {"email": "owner@alpha.test", "password": PASSWORD},
    "POST /api/content/": {"type": "text", "title": "FAQ", "text": "Ответы"},
    "PATCH /api/content/{id}/": {"title": "FAQ"},
    "PATCH /api/leads/{id}/": {"name": "Асель"},
    "POST /api/leads/{id}/messages/": {"text": "Здравствуйте"},
    "POST /api/leads/{id}/tasks/": {"kind": "call", "title": "Перезвонить", "due_at": SOON},
    "POST /api/sandbox/messages/": {"phone": "+7 701 111 22 33", "name": "Асель", "text": "Здравствуйте"},
    "POST /api/stages/": {"name": "Замер"},
    "PATCH /api/stages/{id}/": {"name": "Замер"},
    "POST /api/users/": {"email": "new@alpha.test", "password": "Long-enough-pass-2026", "role": "manager"},
    "PATCH /api/users/{id}/": {"full_name": "Менеджер"},
    "POST /api/auth/password/": {"current_password": PASSWORD, "new_password": "Long-enough-pass-2026"},
    "POST /api/users/{id}/password/": {"new_password": "Long-enough-pass-2026"},
    "POST /api/knowledge/qa/": {"question": "Какие окна?", "answer": "ПВХ"},
    "PATCH /api/knowledge/qa/{id}/": {"answer": "ПВХ"},
    "POST /api/knowledge/prices/": {"item": "Дом под ключ"},
    "PATCH /api/knowledge/prices/{id}/": {"item": "Дом под ключ"},
    "POST /api/knowledge/delivery/": {"city": "Астана", "text": "Доставка"},
    "PATCH /api/knowledge/delivery/{id}/": {"text": "Доставка"},
    "POST /api/knowledge/terms/": {"title": "Оплата", "text": "30% предоплата"},
    "PATCH /api/knowledge/terms/{id}/": {"text": "30% предоплата"},
    "POST /api/leads/": {"name": "Асель"},
    "POST /api/leads/bulk/": {"ids": [1], "action": "tag", "tag": "vip"},
    "PATCH /api/assignment/": {"mode": "round_robin", "when": "new_lead"},
    "PUT /api/notifications/prefs/": {"quiet_start": "22:00", "quiet_end": "08:00"},
    "POST /api/notifications/push/subscribe/": {
        "endpoint": "https://push.example.com/send/abc",
        "keys": {"p256dh": "BNcR" + "A" * 83, "auth": "tBHItJI5svbpez7KI4CCXg"}},
    "POST /api/notifications/push/unsubscribe/": {"endpoint": "https://push.example.com/send/abc"},
    "POST /api/notifications/read/": {"ids": [1]},
    "POST /api/leads/{id}/notes/": {"text": "Перезвонить после 18:00"},
    "POST /api/quick-replies/": {"title": "Цена", "text": "Цена от 5 млн, {name}"},
    "PATCH /api/quick-replies/{id}/": {"title": "Цена"},
    "POST /api/sandbox/receipts/": {"phone": "+7 701 111 22 33", "status": "read"},
}
INTEGER_QUERY_OPERATIONS = [op for op in OPERATIONS if any(
    p["in"] == "query" and "integer" in (p["schema"].get("type"), p["schema"].get("items", {}).get("type"))
    for p in op[2].get("parameters", []))]


def resolve(ref_or_schema: dict) -> dict:
    if "$ref" in ref_or_schema:
        return SCHEMA["components"]["schemas"][ref_or_schema["$ref"].rsplit("/", 1)[1]]
    return ref_or_schema


@pytest.fixture
def objects(tenant_a):
    """Something real behind every {id}: a lead, a custom stage, a content item, a manager, a task."""
    from django.utils import timezone

    from followups.models import Content
    from leads.models import Stage
    from tasks.models import Task

    lead = make_lead(tenant_a, name="Асель", phone="77011112233")
    with tenant_context(tenant_a):
        stage = Stage.objects.create(name="Замер", position=9)
        content = Content.objects.create(type="text", title="FAQ", text="Ответы")
        task = Task.objects.create(lead=lead, kind="call", due_at=timezone.now())
        from knowledge.models import QA, DeliveryRule, PriceItem, Term

        knowledge = {"knowledge/qa": QA.objects.create(question="Окна?", answer="ПВХ").pk,
                     "knowledge/prices": PriceItem.objects.create(item="Дом").pk,
                     "knowledge/delivery": DeliveryRule.objects.create(city="Алматы", text="Склад").pk,
                     "knowledge/terms": Term.objects.create(title="Оплата", text="30%").pk}
        from conversations.models import QuickReply

        quick_reply = QuickReply.objects.create(title="Цена", text="Цена от 5 млн, {name}")
    return {"leads": lead.pk, "stages": stage.pk, "content": content.pk,
            "users": user_of(tenant_a, "manager").pk, **knowledge,
            "tasks": task.pk, "quick-replies": quick_reply.pk}


def url(path: str, objects: dict | None, ident: str | None = None) -> str:
    path = path.replace("{table}", "sales_cycle")  # /api/analytics/export/{table}/: one of its tables
    if "{id}" not in path:
        return path
    parts = path.split("/")
    key = "/".join(parts[2:4]) if parts[2] == "knowledge" else parts[2]  # /api/knowledge/<kind>/{id}/
    return path.replace("{id}", ident if ident is not None else str(objects[key]))


def send(client, method: str, path: str, *, body: bytes | None = None, content_type: str = "application/json"):
    if body is None:
        return client.generic(method, path)
    return client.generic(method, path, body, content_type=content_type)


def assert_error(response, status: int, what: str, names: str = "") -> None:
    """A JSON error of `status` whose detail names `names` (the parameter or field at fault)."""
    assert response.status_code == status, f"{what}: {response.status_code} {response.content[:300]!r}"
    assert response["Content-Type"].startswith("application/json"), f"{what}: {response['Content-Type']}"
    detail = response.json().get("detail")
    assert isinstance(detail, str) and names in detail, f"{what}: {response.content[:300]!r}"


def query_names(operation: dict) -> list[str]:
    return [p["name"] for p in operation.get("parameters", []) if p["in"] == "query"] + [UNDECLARED]


@pytest.mark.parametrize("method,path,operation", OPERATIONS, ids=IDS)
def test_nul_or_an_over_long_value_in_any_query_parameter_is_400(tenant_a, client_for, objects, method, path,
                                                                 operation):
    owner = client_for(tenant_a, "owner")
    for name in query_names(operation):
        for value, why in (("a%00b", "NUL"), ("%00", "only NUL"), ("a" * 1001, "1001 characters")):
            assert_error(send(owner, method, f"{url(path, objects)}?{name}={value}"), 400, f"{name} {why}", name)
    assert_error(send(owner, method, f"{url(path, objects)}?a%00=1"), 400, "NUL in a parameter's name", r"a\x00")


@pytest.mark.parametrize("method,path,operation", INTEGER_QUERY_OPERATIONS,
                         ids=[f"{m} {p}" for m, p, _ in INTEGER_QUERY_OPERATIONS])
def test_integer_query_parameters_refuse_what_is_not_an_integer_in_range(tenant_a, client_for, objects, method,
                                                                         path, operation):
    owner = client_for(tenant_a, "owner")
    for parameter in operation.get("parameters", []):
        schema = parameter["schema"]
        if parameter["in"] != "query" or "integer" not in (schema.get("type"), schema.get("items", {}).get("type")):
            continue
        for value in (BIG, f"-{BIG}", "1.5", "abc", "0x10", "1e3"):
            name = parameter["name"]
            assert_error(send(owner, method, f"{url(path, objects)}?{name}={value}"), 400, f"{name}={value}", name)


@pytest.mark.parametrize("method,path,operation", [op for op in OPERATIONS if "{id}" in op[1]],
                         ids=[i for i, op in zip(IDS, OPERATIONS, strict=True) if "{id}" in op[1]])
def test_an_id_that_is_not_a_number_or_beyond_bigint_is_404_json(tenant_a, client_for, method, path, operation):
    owner = client_for(tenant_a, "owner")
    for ident in (BIG, "abc", "-1", "0", "1.5", "%00"):
        assert_error(send(owner, method, url(path, None, ident)), 404, f"id {ident}")


def body_properties(operation: dict) -> dict[str, dict]:
    schema = resolve(operation["requestBody"]["content"]["application/json"]["schema"])
    return {name: resolve(prop) for name, prop in schema.get("properties", {}).items()}


def wrong_values(prop: dict) -> list[tuple[object, str]]:
    """Values of a property the API must refuse, by its type in the schema."""
    kind = prop.get("type") or ("string" if "enum" in prop or prop.get("allOf") else None)
    if prop.get("readOnly"):
        return []
    if kind == "string" and prop.get("format") != "binary":
        return [("a\x00b", "NUL"), (5, "a number for a string"), (["x"], "a list for a string")]
    if kind == "integer":
        return [(int(BIG), "beyond bigint"), (-int(BIG), "below -bigint"), ("5", "a string for an integer"),
                (True, "a boolean for an integer"), (1.5, "a fraction")]
    if kind == "boolean":
        return [("yes", "a string for a boolean"), (1, "a number for a boolean")]
    if kind == "array":
        return [("x", "a string for a list"), ([{"a\x00": 1}], "NUL in a key inside a list")]
    if kind == "object":
        return [({"note": "a\x00b"}, "NUL in a nested value"), ({"k\x00": 1}, "NUL in a nested key"),
                ([1], "a list for an object")]
    return []


def test_every_json_body_operation_has_a_valid_body_here():
    assert set(BODY_IDS) == set(VALID_BODIES)


def with_raw(body: dict, raw: bytes) -> bytes:
    """The valid body as JSON with `raw` (`"name": value` as bytes) written last, as a client might send it."""
    return json.dumps(body).encode()[:-1] + (b", " if body else b"") + raw + b"}"


@pytest.mark.parametrize("method,path,operation", BODY_OPERATIONS, ids=BODY_IDS)
def test_every_field_of_every_json_body_refuses_malformed_values(tenant_a, client_for, objects, method, path,
                                                                 operation):
    owner = client_for(tenant_a, "owner")
    target, valid = url(path, objects), VALID_BODIES[f"{method} {path}"]
    for name, prop in body_properties(operation).items():
        for value, why in wrong_values(prop):
            body = json.dumps({**valid, name: value}).encode()
            assert_error(send(owner, method, target, body=body), 400, f"{name}: {why}", name)
        lone = with_raw({k: v for k, v in valid.items() if k != name}, b'"%s": "\\ud800x"' % name.encode())
        assert_error(send(owner, method, target, body=lone), 400, f"{name}: lone surrogate", name)


@pytest.mark.parametrize("method,path,operation", BODY_OPERATIONS, ids=BODY_IDS)
def test_a_json_body_that_no_column_could_hold_is_refused(tenant_a, client_for, objects, method, path, operation):
    owner = client_for(tenant_a, "owner")
    target, valid = url(path, objects), VALID_BODIES[f"{method} {path}"]
    cases = [
        (b"[" * 10000 + b"]" * 10000, 400, "10,000-deep nesting"),
        (with_raw(valid, b'"extra": ' + b"[" * 100 + b"]" * 100), 400, "100-deep nesting in an extra field"),
        (with_raw(valid, b'"extra": NaN'), 400, "NaN"),
        (with_raw(valid, b'"extra": -Infinity'), 400, "Infinity"),
        (with_raw(valid, b'"extra": 1e400'), 400, "1e400"),
        (with_raw(valid, b'"\\ud800": 1'), 400, "a lone surrogate in a key"),
        (with_raw(valid, b'"extra": "\xed\xa0\x80"'), 400, "a surrogate encoded in UTF-8"),
        (with_raw(valid, b'"extra": "\xff"'), 400, "bytes that are not UTF-8"),
        (json.dumps(valid).encode()[:-1], 400, "truncated JSON"),
        (with_raw(valid, b'"extra": "' + b"x" * (1024 * 1024) + b'"'), 413, "more than 1 MiB"),
    ]
    for body, status, why in cases:
        assert_error(send(owner, method, target, body=body), status, why)


def test_a_form_body_with_nul_is_400(tenant_a, client_for):
    owner = client_for(tenant_a, "owner")
    form = send(owner, "POST", "/api/stages/", body=b"name=a%00b", content_type="application/x-www-form-urlencoded")
    assert_error(form, 400, "NUL in a form")
    assert_error(owner.post("/api/stages/", {"name": "a\x00b"}), 400, "NUL in a multipart form")


def test_json_data_of_a_lead_keeps_its_values_and_refuses_nul(tenant_a, client_for, objects):
    owner = client_for(tenant_a, "owner")
    lead = f"/api/leads/{objects['leads']}/"
    ok = owner.patch(lead, {"data": {"windows": 4, "city": "Алматы"}}, format="json")
    assert ok.status_code == 200, ok.content
    assert ok.json()["data"]["windows"] == 4
    assert_error(owner.patch(lead, {"data": {"city": "Ал\x00маты"}}, format="json"), 400, "NUL in data")
    assert owner.get(lead).json()["data"]["city"] == "Алматы"


def test_an_error_page_outside_the_api_stays_html(tenant_a, client_for):
    response = client_for(tenant_a).get("/media/nothing-here.png")
    assert response.status_code == 404 and not response["Content-Type"].startswith("application/json")


@pytest.mark.parametrize("params", [{"q": "асель"}, {"stage": "", "q": ""}, {"ordering": "unknown"},
                                   {"temperature": "hot,warm", "channel": "whatsapp"}, {"source": "site, ,ads"},
                                   {"needs_human": "false"}, {"page_size": "1"}])
def test_well_formed_list_filters_still_pass(tenant_a, client_for, objects, params):
    response = client_for(tenant_a, "owner").get("/api/leads/", params)
    assert response.status_code == 200, response.content
