from __future__ import annotations

import pytest

from tests.notifications.pushservice import PushService


@pytest.fixture
def eager():
    """Tasks named through core.tasks.enqueue run in this process (the notifying task, push retries)."""
    from buildcrm.celery import app

    old = app.conf.task_always_eager
    app.conf.task_always_eager = True
    yield app
    app.conf.task_always_eager = old


@pytest.fixture
def push_service():
    service = PushService()
    try:
        yield service
    finally:
        service.close()
