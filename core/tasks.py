"""Enqueue a Celery task by its registered name, so a service never imports a tasks module: tasks import services,
services (and listeners) name tasks.

    enqueue("conversations.deliver_message", message_id, attempt=1)

`celery.current_app` is the project's tenant-schemas-celery app (buildcrm.celery): its `send_task` stamps the
connection's current schema into the message's headers, and the worker runs the task in that tenant's schema — as
`tenants.tasks.dispatch_to_tenants` relies on. Raises what the broker raises: the caller decides whether a lost
enqueue is left to a sweep."""
from __future__ import annotations

from typing import Any

from celery import current_app


def enqueue(name: str, *args: Any, countdown: float | None = None, schema: str | None = None, **kwargs: Any) -> None:
    """Queues task `name` with these arguments, `countdown` seconds from now, to run in the current tenant's schema
    (or in `schema`, for a caller no longer on the tenant's connection)."""
    app = current_app._get_current_object()
    options: dict[str, Any] = {}
    if countdown:
        options["countdown"] = countdown
    if schema is not None:
        options["headers"] = {"_schema_name": schema}
    if app.conf.task_always_eager:
        # send_task ignores task_always_eager (set where tasks run in-process: tests, scripts): the registered task
        # runs here, as its own .delay() would.
        if name not in app.tasks:
            app.loader.import_default_modules()  # the apps' tasks modules (autodiscovery), not imported by services
        app.tasks[name].apply_async(args, kwargs, **options)
        return
    app.send_task(name, args=args, kwargs=kwargs, **options)
