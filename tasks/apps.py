from django.apps import AppConfig


class TasksConfig(AppConfig):
    name = "tasks"
    verbose_name = "Tasks"

    def ready(self) -> None:
        # Listeners of core.events: a call request and a booked meeting become tasks for a manager.
        from tasks import listeners  # noqa: F401
