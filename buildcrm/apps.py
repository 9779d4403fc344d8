from celery.signals import worker_ready
from django.apps import AppConfig


def _worker_metrics_port(**_kwargs) -> None:
    """A Celery worker's samples (its prefork children's too, through PROMETHEUS_MULTIPROC_DIR) on METRICS_PORT."""
    from buildcrm.metrics import metrics_port_start  # after the app registry: metrics reads tenants' models

    metrics_port_start(scrape=False)


class BuildcrmConfig(AppConfig):
    """The web layer as an installed app: no models, its management commands (seed_demo)."""

    name = "buildcrm"
    verbose_name = "BuildCRM"

    def ready(self) -> None:
        worker_ready.connect(_worker_metrics_port, weak=False, dispatch_uid="buildcrm-worker-metrics-port")
