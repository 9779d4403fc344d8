"""Shared fixtures: a real test database with two provisioned tenants, API clients per role,
fresh committed tenants for worker/websocket/browser tests, and a real in-process Celery worker."""
from __future__ import annotations

import itertools
import os
import uuid

import pytest
import redis
from django.conf import settings
from django.db import connection
from rest_framework.test import APIClient

PASSWORD = "Test-pass-123!"
ROLES = ("owner", "head", "manager", "manager2")


@pytest.fixture(scope="session")
def django_db_setup(django_test_environment, django_db_modify_db_settings, django_db_blocker):
    """A migrated test database (always: live tests carry no django_db mark) with the platform and two tenants."""
    from django.test.utils import setup_databases, teardown_databases

    from tenants.services import platform_setup

    with django_db_blocker.unblock():
        db_cfg = setup_databases(verbosity=0, interactive=False, aliases={"default"})
        platform_setup()
        for slug in ("alpha", "beta"):
            _provision(slug)
        connection.set_schema_to_public()
    yield
    with django_db_blocker.unblock():
        try:
            teardown_databases(db_cfg, verbosity=0)
        except Exception as exc:  # workers or servers may still hold a connection; the next run recreates it
            print(f"test database teardown: {exc}")


def _provision(slug: str):
    from django_tenants.utils import tenant_context

    from accounts.models import User
    from tenants.services import tenant_provision

    result = tenant_provision(slug=slug, name=slug.title(), owner_email=f"owner@{slug}.test", owner_password=PASSWORD)
    with tenant_context(result.tenant):
        User.objects.create_user(f"head@{slug}.test", PASSWORD, role="head", full_name=f"Head {slug}")
        User.objects.create_user(f"manager@{slug}.test", PASSWORD, role="manager", full_name=f"Manager {slug}")
        User.objects.create_user(f"manager2@{slug}.test", PASSWORD, role="manager", full_name=f"Manager2 {slug}")
    connection.set_schema_to_public()
    return result.tenant


@pytest.fixture(autouse=True)
def _public_schema_and_clean_redis():
    """Each test starts in the public schema with no login throttling left over from another test.
    (Not FLUSHDB: that would also drop the Celery broker's queue bindings the session worker needs.)"""
    client = redis.Redis.from_url(settings.REDIS_URL)
    for key in client.scan_iter("*login-fail*"):
        client.delete(key)
    yield
    connection.set_schema_to_public()


@pytest.fixture
def tenant_a(db):
    from tenants.models import Tenant

    return Tenant.objects.get(slug="alpha")


@pytest.fixture
def tenant_b(db):
    from tenants.models import Tenant

    return Tenant.objects.get(slug="beta")


def database_url() -> str:
    """The test database as a URL, for subprocesses and raw connections of the tests."""
    db = settings.DATABASES["default"]
    host = db["HOST"]
    if host.startswith("/"):  # the embedded server's unix socket
        return f"postgres://{db['USER']}@/{db['NAME']}?host={host}"
    return f"postgres://{db['USER']}:{db['PASSWORD']}@{host}:{db['PORT'] or 5432}/{db['NAME']}"


def webhook_path(tenant, provider: str) -> str:
    """The path of the tenant's webhook URL of `provider` (its own token), as provision_tenant prints it."""
    from urllib.parse import urlsplit

    from tenants.selectors import webhook_urls

    return urlsplit(webhook_urls(tenant)[provider]).path


def host_of(tenant) -> str:
    return f"{tenant.slug}.{settings.TENANT_BASE_DOMAIN}"


class TenantClient(APIClient):
    """An API client bound to a tenant host; `as_role` logs in with a real token."""

    def __init__(self, tenant, **kwargs):
        super().__init__(HTTP_HOST=host_of(tenant), **kwargs)
        self.tenant = tenant
        self.user = None

    def as_user(self, user) -> TenantClient:
        from django_tenants.utils import tenant_context
        from rest_framework.authtoken.models import Token

        with tenant_context(self.tenant):
            token, _ = Token.objects.get_or_create(user=user)
        self.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
        self.user = user
        return self

    def as_role(self, role: str) -> TenantClient:
        return self.as_user(user_of(self.tenant, role))


def user_of(tenant, role: str):
    from django_tenants.utils import tenant_context

    from accounts.models import User

    with tenant_context(tenant):
        return User.objects.get(email=f"{role}@{tenant.slug}.test")


@pytest.fixture
def client_for():
    """client_for(tenant, role=None) → an API client on that tenant's host (anonymous without role)."""

    def make(tenant, role: str | None = None) -> TenantClient:
        client = TenantClient(tenant)
        return client.as_role(role) if role else client

    return make


_fresh = itertools.count()


@pytest.fixture
def live_tenant(django_db_setup, django_db_blocker):
    """A newly provisioned tenant whose data is really committed (workers, sockets and servers see it)."""
    with django_db_blocker.unblock():
        slug = f"live{os.getpid() % 1000}x{next(_fresh)}{uuid.uuid4().hex[:4]}"
        tenant = _provision(slug)
        yield tenant
        connection.set_schema_to_public()


@pytest.fixture
def live_db(django_db_setup, django_db_blocker):
    """Database access without a wrapping transaction (for code that runs on other threads)."""
    with django_db_blocker.unblock():
        yield


@pytest.fixture(scope="session")
def celery_worker_session(django_db_setup, django_db_blocker):
    """A real Celery worker (threads pool) consuming this test process's Redis broker."""
    from celery.contrib.testing.worker import start_worker

    from buildcrm.celery import app

    with django_db_blocker.unblock():
        with start_worker(app, pool="threads", concurrency=4, perform_ping_check=False, loglevel="WARNING",
                          shutdown_timeout=10):
            yield app


@pytest.fixture
def worker(celery_worker_session, live_db):
    return celery_worker_session
