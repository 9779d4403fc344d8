"""Browser tests against the real stack: a daphne process serving buildcrm.asgi on a free port against this
test process's database and Redis, the in-process Celery worker, committed tenants, and headless Chromium
(Debian's /usr/bin/chromium driven by Playwright's sync API)."""
from __future__ import annotations

import os
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import pytest
from django.conf import settings

from buildcrm.devstack import free_port
from tests.conftest import PASSWORD, database_url

ROOT = Path(__file__).resolve().parents[2]
SHOTS = ROOT / "artifacts" / "screenshots"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-quic",
                 "--no-first-run", "--disable-component-update", "--disable-sync"]
DESKTOP = {"width": 1440, "height": 900}
PHONE = {"width": 390, "height": 844}


def _subprocess_env() -> dict:
    env = dict(os.environ)
    env["DATABASE_URL"] = database_url()
    env["REDIS_URL"] = settings.REDIS_URL
    if os.environ.get("PYTEST_XDIST_WORKER"):
        env["PYTEST_XDIST_WORKER"] = os.environ["PYTEST_XDIST_WORKER"]
    env["CONN_MAX_AGE"] = "0"  # let the test database be dropped at the end of the session
    env.setdefault("LOG_LEVEL", "WARNING")
    return env


@dataclass
class LiveServer:
    port: int
    proc: subprocess.Popen
    log: Path

    def url(self, tenant, path: str = "/") -> str:
        return f"http://{tenant.slug}.localhost:{self.port}{path}"

    def log_tail(self, n: int = 40) -> str:
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-n:])
        except OSError:
            return ""


@pytest.fixture(scope="session")
def live_stack(django_db_setup, tmp_path_factory):
    """daphne serving buildcrm.asgi:application (HTTP, the built PWA, /ws/) on a free port."""
    index = settings.FRONTEND_DIST / "index.html"
    if not index.exists():
        pytest.fail(f"{index} is missing: build the PWA first (`make setup` or `cd frontend && npm run build`)",
                    pytrace=False)
    yield from daphne_server(tmp_path_factory)


def daphne_server(tmp_path_factory):
    """Starts daphne against this test process's database and Redis, yields it once it answers, stops it."""
    port = free_port()
    log = tmp_path_factory.mktemp("daphne") / "daphne.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "daphne", "-b", "127.0.0.1", "-p", str(port), "buildcrm.asgi:application"],
            cwd=ROOT, env=_subprocess_env(), stdout=out, stderr=subprocess.STDOUT,
        )
    server = LiveServer(port=port, proc=proc, log=log)
    deadline = time.monotonic() + 60
    while True:
        if proc.poll() is not None:
            pytest.fail(f"daphne exited with {proc.returncode}:\n{server.log_tail()}", pytrace=False)
        try:
            request = urllib.request.Request(f"http://127.0.0.1:{port}/api/auth/csrf/",
                                             headers={"Host": f"alpha.{settings.TENANT_BASE_DOMAIN}"})
            with urllib.request.urlopen(request, timeout=2) as response:
                if response.status < 500:
                    break
        except urllib.error.HTTPError as exc:
            if exc.code < 500:
                break
        except OSError:
            pass
        if time.monotonic() > deadline:
            proc.terminate()
            pytest.fail(f"daphne did not answer on port {port}:\n{server.log_tail()}", pytrace=False)
        time.sleep(0.2)
    yield server
    proc.terminate()
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


@pytest.fixture(scope="session")
def chromium(django_db_setup):
    """One headless Chromium per test session (per xdist worker)."""
    from playwright.sync_api import sync_playwright

    # Playwright's sync API runs its event loop on this thread; the ORM calls tests make between browser
    # steps are still plain synchronous calls.
    previous = os.environ.get("DJANGO_ALLOW_ASYNC_UNSAFE")
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    from playwright.sync_api import expect

    expect.set_options(timeout=15_000)  # a loaded CI box: the live stack is real, give it time
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()
    if previous is None:
        os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
    else:
        os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = previous


def fetch_status(page, path: str) -> int:
    """GET `path` from inside the page (its cookies, its host) and return the HTTP status."""
    return page.evaluate("(p) => fetch(p, {credentials: 'same-origin'}).then((r) => r.status)", path)


class Browser:
    """Opens pages on a tenant host; collects page errors so a crashed screen fails the test."""

    def __init__(self, chromium, server: LiveServer):
        self.chromium, self.server = chromium, server
        self.contexts: list = []
        self.errors: list[str] = []

    def page(self, tenant, *, role: str | None = "owner", phone: bool = False, path: str | None = "/leads",
             live: bool = True):
        viewport = PHONE if phone else DESKTOP
        context = self.chromium.new_context(
            viewport=viewport, locale="ru-RU", service_workers="block",
            is_mobile=phone, has_touch=phone, device_scale_factor=2 if phone else 1,
        )
        context.set_default_timeout(15_000)
        self.contexts.append(context)
        page = context.new_page()
        page.on("pageerror", lambda exc: self.errors.append(f"{page.url}: {exc}"))
        # The PWA runs under a strict Content-Security-Policy: anything it refuses is a broken screen.
        page.on("console", lambda msg: self.errors.append(f"{page.url}: {msg.text}")
                if "Content Security Policy" in msg.text else None)
        if role:
            self.login(page, tenant, role)
        if path is not None:
            if role and live:
                # wait for the app's websocket to be joined (the server greets with {"type": "hello"})
                with page.expect_websocket(lambda ws: ws.url.endswith("/ws/")) as ws_info:
                    page.goto(self.server.url(tenant, path))
                ws_info.value.wait_for_event("framereceived", lambda frame: '"hello"' in str(frame))
            else:
                page.goto(self.server.url(tenant, path))
        return page

    def login(self, page, tenant, role: str, password: str | None = None) -> None:
        """Logs in through the browser itself (Playwright's own HTTP client cannot resolve *.localhost)."""
        page.goto(self.server.url(tenant, "/favicon.svg"))
        # Session login is CSRF-protected: get the cookie first and send it back in the header, as the PWA does.
        status = page.evaluate(
            """async ([email, password]) => {
                 await fetch('/api/auth/csrf/', {credentials: 'same-origin'});
                 const csrf = (document.cookie.match(/(?:^|; )csrftoken=([^;]*)/) || [])[1] || '';
                 const r = await fetch('/api/auth/login/', {method: 'POST', credentials: 'same-origin',
                   headers: {'Content-Type': 'application/json', 'X-CSRFToken': decodeURIComponent(csrf)},
                   body: JSON.stringify({email, password})});
                 return [r.status, (await r.text()).slice(0, 300)];
               }""",
            [f"{role}@{tenant.slug}.test", password or PASSWORD])
        assert status[0] == 200, f"login as {role} failed: HTTP {status[0]} {status[1]}"

    def close(self) -> None:
        for context in self.contexts:
            try:
                context.close()
            except Exception:  # the browser may already be gone
                pass


@pytest.fixture
def browser(chromium, live_stack):
    b = Browser(chromium, live_stack)
    yield b
    b.close()
    assert not b.errors, "uncaught errors in the page:\n" + "\n".join(b.errors)


def shot(page, name: str) -> Path:
    """Saves a full-viewport screenshot under artifacts/screenshots/."""
    SHOTS.mkdir(parents=True, exist_ok=True)
    path = SHOTS / f"{name}.png"
    page.screenshot(path=str(path))
    return path
