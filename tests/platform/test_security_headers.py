"""Security headers: the PWA's Content-Security-Policy on the tenant host; none on the platform host's admin."""
import pytest
from django.test import Client

from accounts.models import User
from tests.conftest import host_of


def _directives(header: str) -> dict[str, list[str]]:
    out = {}
    for part in header.split(";"):
        words = part.split()
        if words:
            out[words[0]] = words[1:]
    return out


@pytest.mark.parametrize("path", ["/", "/leads", "/leads/5", "/team", "/api/auth/me/", "/api/auth/csrf/"])
def test_tenant_host_serves_the_pwa_with_a_content_security_policy(tenant_a, path):
    res = Client(HTTP_HOST=f"{host_of(tenant_a)}:8000").get(path)
    assert res.status_code in (200, 204, 401, 403)
    csp = _directives(res["Content-Security-Policy"])
    assert csp["script-src"] == ["'self'"]  # no inline script, no eval, no foreign script
    assert csp["object-src"] == ["'none'"] and csp["frame-ancestors"] == ["'none'"]
    assert csp["default-src"] == ["'self'"] and csp["base-uri"] == ["'self'"]
    assert set(csp["connect-src"]) == {"'self'", f"ws://{host_of(tenant_a)}:8000", f"wss://{host_of(tenant_a)}:8000"}
    assert {"'self'", "data:", "blob:", "https:"} <= set(csp["img-src"])
    assert res["X-Content-Type-Options"] == "nosniff"
    assert res["X-Frame-Options"] == "DENY"


def test_built_pwa_has_no_inline_script(settings):
    """The CSP allows only script files from our origin: the built index.html must not inline any."""
    import re

    page = settings.FRONTEND_DIST / "index.html"
    html = page.read_text()
    scripts = re.findall(r"<script\b([^>]*)>(.*?)</script>", html, flags=re.S | re.I)
    assert scripts, "index.html loads no script?"
    for attrs, body in scripts:
        assert "src=" in attrs and not body.strip(), f"inline script in index.html: {attrs} {body[:80]}"
    assert not re.search(r"\son[a-z]+\s*=", html, flags=re.I), "inline event handler in index.html"
    assert "<style" not in html.lower(), "inline <style> in index.html (style-src 'self')"


def test_swagger_page_keeps_working_without_the_pwa_policy(tenant_a, client_for):
    res = client_for(tenant_a, "owner").get("/api/docs/")
    assert res.status_code == 200 and "Content-Security-Policy" not in res


def test_platform_admin_is_not_restricted_by_the_pwa_policy(db):
    User.objects.create_superuser("csp-root@platform.kz", "Root-pass-2026")
    client = Client(HTTP_HOST="localhost")
    login_page = client.get("/admin/login/")
    assert login_page.status_code == 200 and "Content-Security-Policy" not in login_page
    assert client.login(email="csp-root@platform.kz", password="Root-pass-2026")
    for path in ("/admin/", "/admin/tenants/tenant/", "/admin/tenants/tenant/add/"):
        res = client.get(path)
        assert res.status_code == 200, path
        assert "Content-Security-Policy" not in res, path
