from django.apps import AppConfig


class CrmsyncConfig(AppConfig):
    name = "crmsync"
    verbose_name = "amoCRM sync"

    def ready(self) -> None:
        # Listeners of core.events: our leads' changes mirrored into amoCRM.
        from crmsync import listeners  # noqa: F401
