"""Login on the tenant host: a wrong password is explained, the session survives a reload, logout ends it."""
import pytest
from playwright.sync_api import expect

from tests.browser.conftest import PHONE, fetch_status
from tests.conftest import PASSWORD

pytestmark = [pytest.mark.browser, pytest.mark.live]


def _fill_login(page, email: str, password: str) -> None:
    page.get_by_test_id("login-email").fill(email)
    page.get_by_test_id("login-password").fill(password)
    page.get_by_test_id("login-submit").click()


def test_login_wrong_password_then_success_reload_and_logout(browser, live_tenant, live_stack):
    page = browser.page(live_tenant, role=None, path="/")
    expect(page.get_by_test_id("login-form")).to_be_visible()

    _fill_login(page, f"owner@{live_tenant.slug}.test", "not-the-password")
    expect(page.get_by_test_id("login-error")).to_have_text("Неверный email или пароль.")
    expect(page.get_by_test_id("board")).to_have_count(0)

    _fill_login(page, f"owner@{live_tenant.slug}.test", PASSWORD)
    expect(page.get_by_test_id("board")).to_be_visible()
    expect(page).to_have_url(live_stack.url(live_tenant, "/leads"))
    expect(page.get_by_test_id("me")).to_contain_text("Владелец")

    page.reload()
    expect(page.get_by_test_id("board")).to_be_visible()
    expect(page.get_by_test_id("login-form")).to_have_count(0)

    page.get_by_test_id("logout").click()
    expect(page.get_by_test_id("login-form")).to_be_visible()
    page.reload()
    expect(page.get_by_test_id("login-form")).to_be_visible()
    # the session is really gone on the server as well
    assert fetch_status(page, "/api/auth/me/") in (401, 403)


def test_deactivated_user_is_told_so(browser, live_tenant):
    from django_tenants.utils import tenant_context

    from accounts.models import User

    with tenant_context(live_tenant):
        User.objects.filter(email=f"manager2@{live_tenant.slug}.test").update(is_active=False)
    page = browser.page(live_tenant, role=None, path="/")
    _fill_login(page, f"manager2@{live_tenant.slug}.test", PASSWORD)
    expect(page.get_by_test_id("login-error")).to_contain_text("деактивирован")


def test_login_page_on_a_phone(browser, live_tenant):
    page = browser.page(live_tenant, role=None, phone=True, path="/")
    expect(page.get_by_test_id("login-form")).to_be_visible()
    box = page.get_by_test_id("login-submit").bounding_box()
    assert box and box["x"] >= 0 and box["x"] + box["width"] <= PHONE["width"]
    _fill_login(page, f"manager@{live_tenant.slug}.test", PASSWORD)
    expect(page.get_by_test_id("board")).to_be_visible()
