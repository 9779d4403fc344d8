from django.apps import AppConfig


class NotificationsConfig(AppConfig):
    name = "notifications"
    verbose_name = "Notifications"

    def ready(self) -> None:
        # Listeners of core.events: who is told what, queued once the emitter commits.
        from notifications import listeners  # noqa: F401
