from django.apps import AppConfig


class AiagentConfig(AppConfig):
    name = "aiagent"
    verbose_name = "AI manager"

    def ready(self) -> None:
        # Listeners of core.events: a turn for client messages, the first contact for leads that did not write.
        from aiagent import listeners  # noqa: F401
