from django.apps import AppConfig


class LeadsConfig(AppConfig):
    name = "leads"
    verbose_name = "Leads"

    def ready(self) -> None:
        # Listeners of core.events: a new tenant's default stages.
        from leads import listeners  # noqa: F401
