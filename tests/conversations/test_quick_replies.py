"""Quick replies (issue 16): owners and heads manage them, managers only read them, another tenant sees none."""
from __future__ import annotations

import pytest

URL = "/api/quick-replies/"


def create(client, **body):
    body = {"title": "Цена", "text": "Здравствуйте, {name}! Цена от 1 000 000 ₸.", **body}
    return client.post(URL, body, format="json")


@pytest.mark.parametrize("role", ["owner", "head"])
def test_owner_and_head_create_edit_and_delete(tenant_a, client_for, role):
    client = client_for(tenant_a, role)
    res = create(client, title="  Цена  ", position=2)
    assert res.status_code == 201, res.content
    reply = res.json()
    assert reply["title"] == "Цена" and reply["text"].startswith("Здравствуйте, {name}!") and reply["position"] == 2
    res = client.patch(f"{URL}{reply['id']}/", {"text": "Новый текст"}, format="json")
    assert res.status_code == 200 and res.json()["text"] == "Новый текст" and res.json()["title"] == "Цена"
    assert client.get(f"{URL}{reply['id']}/").json()["text"] == "Новый текст"
    assert client.delete(f"{URL}{reply['id']}/").status_code == 204
    assert client.get(f"{URL}{reply['id']}/").status_code == 404


def test_list_is_ordered_by_position_and_managers_read_it(tenant_a, client_for):
    head = client_for(tenant_a, "head")
    second = create(head, title="Второй", position=5).json()
    first = create(head, title="Первый", position=1).json()
    listed = client_for(tenant_a, "manager").get(URL)
    assert listed.status_code == 200
    ids = [r["id"] for r in listed.json()]
    assert ids.index(first["id"]) < ids.index(second["id"])
    assert client_for(tenant_a, "manager").get(f"{URL}{first['id']}/").json()["title"] == "Первый"


def test_a_manager_cannot_change_them(tenant_a, client_for):
    reply = create(client_for(tenant_a, "owner")).json()
    manager = client_for(tenant_a, "manager")
    assert create(manager).status_code == 403
    assert manager.patch(f"{URL}{reply['id']}/", {"text": "x"}, format="json").status_code == 403
    assert manager.delete(f"{URL}{reply['id']}/").status_code == 403
    assert client_for(tenant_a, "owner").get(f"{URL}{reply['id']}/").json()["text"] == reply["text"]


def test_anonymous_is_401(tenant_a, client_for):
    assert client_for(tenant_a).get(URL).status_code == 401
    assert create(client_for(tenant_a)).status_code == 401


def test_another_tenant_sees_none_of_them(tenant_a, tenant_b, client_for):
    reply = create(client_for(tenant_a, "owner"), title="Только альфа").json()
    other = client_for(tenant_b, "owner")
    assert all(r["title"] != "Только альфа" for r in other.get(URL).json())
    assert other.get(f"{URL}{reply['id']}/").status_code == 404
    assert other.patch(f"{URL}{reply['id']}/", {"text": "x"}, format="json").status_code == 404
    assert other.delete(f"{URL}{reply['id']}/").status_code == 404
    assert client_for(tenant_a, "owner").get(f"{URL}{reply['id']}/").status_code == 200


@pytest.mark.parametrize("body, field", [
    ({"title": "", "text": "x"}, "title"), ({"title": "   ", "text": "x"}, "title"),
    ({"title": "a", "text": "  "}, "text"), ({"title": "a" * 81, "text": "x"}, "title"),
    ({"title": "a", "text": "x" * 4097}, "text"), ({"title": "a", "text": "x", "position": -1}, "position"),
    ({"title": ["a"], "text": "x"}, "title"), ({"text": "x"}, "title"),
])
def test_bad_input_is_400_naming_the_field(tenant_a, client_for, body, field):
    res = client_for(tenant_a, "owner").post(URL, body, format="json")
    assert res.status_code == 400, res.content
    assert res.json()["detail"].startswith(field)
