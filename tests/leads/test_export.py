"""GET /api/leads/export/: the filtered list as CSV — UTF-8 with a BOM, the list's filters, the user's visibility,
cells a spreadsheet would run as formulas made inert; nothing of another tenant."""
from __future__ import annotations

import codecs
import csv
import io

import pytest

from tests.conftest import user_of
from tests.leads.conftest import make_lead, set_managers_see_all


def rows_of(response) -> list[dict]:
    assert response.status_code == 200, response.content
    assert response["Content-Type"].startswith("text/csv")
    assert response.content.startswith(codecs.BOM_UTF8)
    return list(csv.DictReader(io.StringIO(response.content.decode("utf-8-sig"))))


def test_export_follows_the_lists_filters(tenant_a, client_for):
    hot = make_lead(tenant_a, name="Горячий", phone="77011110001", temperature="hot", tags=["vip"], city="Алматы")
    make_lead(tenant_a, name="Холодный", phone="77011110002", temperature="cold")
    client = client_for(tenant_a, "owner")
    rows = rows_of(client.get("/api/leads/export/"))
    assert {r["name"] for r in rows} == {"Горячий", "Холодный"}
    rows = rows_of(client.get("/api/leads/export/", {"temperature": "hot"}))
    assert [(r["id"], r["name"], r["phone"], r["city"], r["tags"]) for r in rows] == [
        (str(hot.pk), "Горячий", "77011110001", "Алматы", "vip")]
    assert rows_of(client.get("/api/leads/export/", {"tag": "vip"}))[0]["name"] == "Горячий"
    assert rows_of(client.get("/api/leads/export/", {"q": "Холод"}))[0]["name"] == "Холодный"
    assert client.get("/api/leads/export/", {"temperature": "lukewarm"}).status_code == 400


def test_formulas_are_made_inert(tenant_a, client_for):
    for n, name in enumerate(["=HYPERLINK(\"http://evil\")", "+7 cmd", "-2+3", "@SUM(A1)", "\tx", "Обычный"]):
        make_lead(tenant_a, name=name, phone=f"7701111000{n}", city="=1+1")
    rows = rows_of(client_for(tenant_a, "head").get("/api/leads/export/", {"ordering": "created_at"}))
    names = [r["name"] for r in rows]
    assert names == ["'=HYPERLINK(\"http://evil\")", "'+7 cmd", "'-2+3", "'@SUM(A1)", "'\tx", "Обычный"]
    assert {r["city"] for r in rows} == {"'=1+1"}


def test_a_restricted_manager_exports_only_their_leads(tenant_a, client_for):
    set_managers_see_all(tenant_a, False)
    mine = make_lead(tenant_a, name="Мой", phone="77011110010", assignee=user_of(tenant_a, "manager"))
    make_lead(tenant_a, name="Чужой", phone="77011110011", assignee=user_of(tenant_a, "manager2"))
    make_lead(tenant_a, name="Ничей", phone="77011110012")
    rows = rows_of(client_for(tenant_a, "manager").get("/api/leads/export/"))
    assert [r["id"] for r in rows] == [str(mine.pk)]
    set_managers_see_all(tenant_a, True)
    assert len(rows_of(client_for(tenant_a, "manager").get("/api/leads/export/"))) == 3


@pytest.mark.parametrize("role", [None, "beta-owner"])
def test_anonymous_and_other_tenants_get_nothing(tenant_a, tenant_b, client_for, role):
    make_lead(tenant_a, name="Альфа секрет", phone="77011110020")
    if role is None:
        assert client_for(tenant_a).get("/api/leads/export/").status_code == 401
        return
    header = client_for(tenant_b, "owner")._credentials["HTTP_AUTHORIZATION"]
    assert client_for(tenant_a).get("/api/leads/export/", HTTP_AUTHORIZATION=header).status_code == 401
    rows = rows_of(client_for(tenant_b, "owner").get("/api/leads/export/"))
    assert "Альфа секрет" not in {r["name"] for r in rows}
