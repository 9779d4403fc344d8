"""The PWA's page is served for the app's routes only: a missing file is a 404 without a CSRF cookie (a browser's
automatic /favicon.ico used to get the page and a fresh CSRF cookie, racing the cookie a login had just read), and
/favicon.ico exists on every host."""
import pytest
from django.conf import settings
from django.test import Client

from tests.conftest import host_of


@pytest.mark.django_db
def test_an_app_route_gets_the_page_and_a_csrf_cookie(tenant_a):
    res = Client(HTTP_HOST=host_of(tenant_a)).get("/leads/42")
    assert res.status_code == 200 and res["Content-Type"].startswith("text/html")
    assert settings.CSRF_COOKIE_NAME in res.cookies


@pytest.mark.django_db
@pytest.mark.parametrize("path", ["/robots.txt", "/apple-touch-icon-precomposed.png", "/leads/42/x.js",
                                  "/a.webmanifest"])
def test_a_missing_file_is_a_404_without_a_csrf_cookie(tenant_a, path):
    res = Client(HTTP_HOST=host_of(tenant_a)).get(path)
    assert res.status_code == 404
    assert settings.CSRF_COOKIE_NAME not in res.cookies


@pytest.mark.django_db
def test_favicon_ico_is_served_on_tenant_and_platform_hosts(tenant_a):
    for host in (host_of(tenant_a), settings.PUBLIC_DOMAIN):
        res = Client(HTTP_HOST=host).get("/favicon.ico")
        assert res.status_code == 200, host
        body = b"".join(res.streaming_content) if res.streaming else res.content
        assert body[:4] == b"\x00\x00\x01\x00"  # an ICO file
        assert settings.CSRF_COOKIE_NAME not in res.cookies
