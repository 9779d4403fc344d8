"""Passwords in the PWA: everyone changes their own (the live socket comes back by itself), owners and heads reset
their team's on the Team screen — on a desktop and on a 390 px phone — and the app runs under its CSP."""
import pytest
from playwright.sync_api import expect

from tests.browser.conftest import PHONE, fetch_status, shot
from tests.browser.helpers import card, lead_make
from tests.conftest import PASSWORD, TenantClient

pytestmark = [pytest.mark.browser, pytest.mark.live]

NEW = "Fresh-horse-battery-91"


def _inside_phone(locator) -> None:
    box = locator.bounding_box()
    assert box and box["x"] >= 0 and box["x"] + box["width"] <= PHONE["width"], box


def test_manager_changes_own_password_on_a_phone(browser, live_tenant, live_stack):
    lead_id = lead_make(live_tenant, name="Живая Карточка", text="Алло")
    page = browser.page(live_tenant, role="manager", phone=True, path="/leads")
    expect(card(page, lead_id)).to_contain_text("Живая Карточка")
    page.get_by_test_id("nav-account").click()
    expect(page.get_by_test_id("password-form")).to_be_visible()
    _inside_phone(page.get_by_test_id("password-submit"))

    page.get_by_test_id("password-current").fill("not-my-password")
    page.get_by_test_id("password-new").fill(NEW)
    page.get_by_test_id("password-repeat").fill(NEW)
    page.get_by_test_id("password-submit").click()
    expect(page.get_by_test_id("password-error")).to_have_text("Неверный текущий пароль.")

    page.get_by_test_id("password-current").fill(PASSWORD)
    page.get_by_test_id("password-new").fill("12345678")
    page.get_by_test_id("password-repeat").fill("12345678")
    page.get_by_test_id("password-submit").click()
    expect(page.get_by_test_id("password-error")).to_contain_text("пароль")

    page.get_by_test_id("password-new").fill(NEW)
    page.get_by_test_id("password-repeat").fill(NEW + "x")
    page.get_by_test_id("password-submit").click()
    expect(page.get_by_test_id("password-error")).to_have_text("Новые пароли не совпадают.")

    page.get_by_test_id("password-repeat").fill(NEW)
    closes: list[str] = []
    page.on("websocket", lambda ws: closes.append(f"new socket {ws.url}"))
    page.on("console", lambda msg: closes.append(msg.text) if "WebSocket" in msg.text else None)
    page.get_by_test_id("password-submit").click()
    expect(page.get_by_test_id("toast-info")).to_contain_text("Пароль изменён")
    shot(page, "password-change-mobile")
    # the server closed this user's other sessions' sockets; this session's socket stays live
    page.get_by_test_id("nav-leads").click()
    expect(card(page, lead_id)).to_contain_text("Живая Карточка")
    res = TenantClient(live_tenant).as_role("owner").patch(f"/api/leads/{lead_id}/", {"name": "Живая Переименована"},
                                                           format="json")
    assert res.status_code == 200, res.content
    expect(card(page, lead_id)).to_contain_text("Живая Переименована")
    assert closes == [], closes
    assert fetch_status(page, "/api/auth/me/") == 200

    # a fresh browser signs in with the new password only
    other = browser.page(live_tenant, role=None, path="/")
    other.get_by_test_id("login-email").fill(f"manager@{live_tenant.slug}.test")
    other.get_by_test_id("login-password").fill(PASSWORD)
    other.get_by_test_id("login-submit").click()
    expect(other.get_by_test_id("login-error")).to_have_text("Неверный email или пароль.")
    other.get_by_test_id("login-password").fill(NEW)
    other.get_by_test_id("login-submit").click()
    expect(other.get_by_test_id("board")).to_be_visible()


def test_password_form_in_english(browser, live_tenant):
    page = browser.page(live_tenant, role="head", path="/account")
    page.get_by_test_id("lang-switch").click()
    expect(page.get_by_test_id("password-form")).to_contain_text("Change password")
    page.get_by_test_id("password-current").fill(PASSWORD)
    page.get_by_test_id("password-new").fill("short1")
    page.get_by_test_id("password-repeat").fill("short1")
    page.evaluate("document.querySelectorAll('input[minlength]').forEach((i) => i.removeAttribute('minlength'))")
    page.get_by_test_id("password-submit").click()
    expect(page.get_by_test_id("password-error")).to_contain_text("too short")


@pytest.mark.parametrize("phone_sized", [False, True], ids=["desktop", "phone"])
def test_owner_resets_a_managers_password_on_the_team_screen(browser, live_tenant, phone_sized):
    from django_tenants.utils import tenant_context

    from accounts.models import User

    with tenant_context(live_tenant):
        manager = User.objects.get(email=f"manager2@{live_tenant.slug}.test")
        owner = User.objects.get(email=f"owner@{live_tenant.slug}.test")
    member = browser.page(live_tenant, role="manager2", path="/leads")  # signed in elsewhere
    page = browser.page(live_tenant, role="owner", phone=phone_sized, path="/team")
    expect(page.get_by_test_id(f"user-row-{manager.id}")).to_be_visible()
    expect(page.get_by_test_id(f"user-reset-{owner.id}")).to_have_count(0)  # not one's own, not a peer's
    button = page.get_by_test_id(f"user-reset-{manager.id}")
    if phone_sized:
        shot(page, "team-mobile")
        _inside_phone(button)  # reachable without scrolling the table sideways
    button.scroll_into_view_if_needed()
    button.click()
    dialog = page.get_by_test_id("reset-dialog")
    expect(dialog).to_be_visible()
    page.get_by_test_id("reset-new").fill(NEW)
    page.get_by_test_id("reset-repeat").fill(NEW)
    if phone_sized:
        _inside_phone(page.get_by_test_id("reset-submit"))
        shot(page, "team-reset-mobile")
    page.get_by_test_id("reset-submit").click()
    expect(page.get_by_test_id("toast-info")).to_contain_text("изменён")
    expect(dialog).to_have_count(0)
    # the member's other session is over; the new password opens a new one
    assert fetch_status(member, "/api/auth/me/") in (401, 403)
    with tenant_context(live_tenant):
        manager.refresh_from_db()
        assert manager.check_password(NEW)


def test_head_sees_no_reset_for_the_owner_or_heads(browser, live_tenant):
    from django_tenants.utils import tenant_context

    from accounts.models import User

    with tenant_context(live_tenant):
        ids = dict(User.objects.values_list("email", "id"))
    page = browser.page(live_tenant, role="head", path="/team")
    expect(page.get_by_test_id(f"user-reset-{ids[f'manager@{live_tenant.slug}.test']}")).to_be_visible()
    for role in ("owner", "head"):
        expect(page.get_by_test_id(f"user-reset-{ids[f'{role}@{live_tenant.slug}.test']}")).to_have_count(0)


def test_the_pwa_runs_under_its_content_security_policy(browser, live_tenant, live_stack):
    page = browser.page(live_tenant, role="owner", path=None)
    response = page.goto(live_stack.url(live_tenant, "/leads"))
    csp = response.headers["content-security-policy"]
    assert "script-src 'self'" in csp and "frame-ancestors 'none'" in csp
    expect(page.get_by_test_id("board")).to_be_visible()
    # an injected inline script is refused by the browser (and reported), so it never runs
    refused = page.evaluate("""() => new Promise((resolve) => {
        document.addEventListener('securitypolicyviolation', (e) => resolve(e.violatedDirective), {once: true});
        const s = document.createElement('script');
        s.textContent = 'window.__injected = 1';
        document.body.appendChild(s);
        setTimeout(() => resolve(null), 3000);
    })""")
    assert refused and refused.startswith("script-src")
    assert page.evaluate("window.__injected") is None
    browser.errors.clear()  # that refusal was the point: every other test fails on any CSP report


def test_chat_photo_is_shown_under_the_csp_and_a_fake_one_is_refused(browser, live_tenant, tmp_path):
    import io

    from PIL import Image

    real = tmp_path / "дом.jpg"
    buffer = io.BytesIO()
    Image.new("RGB", (40, 30), (30, 120, 200)).save(buffer, format="PNG")  # a PNG called .jpg: fine, it decodes
    real.write_bytes(buffer.getvalue())
    fake = tmp_path / "фото.png"
    fake.write_bytes(b"<html><script>alert(document.cookie)</script></html>")

    lead_id = lead_make(live_tenant, name="Фото-клиент", text="Пришлите фото")
    page = browser.page(live_tenant, role="owner", path=f"/leads/{lead_id}")
    chat = page.get_by_test_id("chat")
    page.get_by_test_id("chat-photo").set_input_files(str(fake))
    page.get_by_test_id("chat-send").click()
    expect(page.get_by_test_id("toast-error")).to_contain_text("JPEG, PNG, WebP")

    page.get_by_test_id("chat-photo").set_input_files(str(real))
    page.get_by_test_id("chat-input").fill("Вот фото")
    page.get_by_test_id("chat-send").click()
    image = chat.locator("img.msg-img")
    expect(image).to_have_count(1)
    src = image.get_attribute("src")
    assert src.endswith(".png") and "/media/" in src
    page.wait_for_function("(img) => img.complete && img.naturalWidth === 40", arg=image.element_handle())
