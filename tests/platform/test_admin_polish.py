"""The global admin's pages show no "None" and no "Not available for global schema" (issue 16)."""
import re

import pytest
from django.test import Client

from accounts.models import User
from tenants.models import TenantHealth
from tenants.services import health_record

SHOWN_NONE = re.compile(r">\s*None\s*<")


@pytest.fixture
def admin_client(db):
    User.objects.create_superuser("root@platform.kz", "Root-pass-2026")
    client = Client(HTTP_HOST="localhost")
    assert client.login(email="root@platform.kz", password="Root-pass-2026")
    return client


def _page(client, url: str) -> str:
    res = client.get(url)
    assert res.status_code == 200, (url, res.status_code)
    return res.content.decode()


def _clean(page: str, url: str) -> None:
    assert "Not available" not in page, url
    assert "Недоступно" not in page, url
    assert not SHOWN_NONE.search(page), (url, SHOWN_NONE.search(page).group(0) if SHOWN_NONE.search(page) else "")


def test_index_lists_the_platform_models_with_links_and_no_unavailable_apps(admin_client, tenant_a):
    page = _page(admin_client, "/admin/")
    _clean(page, "/admin/")
    assert 'href="/admin/tenants/tenant/"' in page and 'href="/admin/followups/content/"' in page
    # tokens live in the tenants' schemas: not offered where there is no table for them
    assert "/admin/authtoken/" not in page
    assert admin_client.get("/admin/authtoken/tokenproxy/").status_code == 404


def test_tenant_pages_show_a_dash_for_what_never_happened(admin_client, tenant_a, tenant_b):
    """A tenant that never received or sent anything: its health has no times (None before)."""
    TenantHealth.objects.filter(tenant=tenant_b).delete()
    health_record(tenant_id=tenant_a.id, error="send chatflow: 502", source="chatflow")  # health, but no send yet
    for url in ("/admin/tenants/tenant/", f"/admin/tenants/tenant/{tenant_a.pk}/change/",
                f"/admin/tenants/tenant/{tenant_b.pk}/change/", "/admin/followups/content/",
                "/admin/tenants/tenant/add/"):
        page = _page(admin_client, url)
        _clean(page, url)
    changelist = _page(admin_client, "/admin/tenants/tenant/")
    assert "—" in changelist


def test_content_of_a_picked_tenant_renders_clean(admin_client, tenant_a):
    admin_client.get("/admin/followups/content/?tenant=alpha")
    for url in ("/admin/followups/content/", "/admin/followups/content/add/"):
        _clean(_page(admin_client, url), url)
