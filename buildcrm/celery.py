"""Celery app that carries the tenant schema into every task (tenant-schemas-celery)."""
import os

from tenant_schemas_celery.app import CeleryApp

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "buildcrm.settings")

app = CeleryApp("buildcrm")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
