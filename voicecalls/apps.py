from django.apps import AppConfig


class VoicecallsConfig(AppConfig):
    name = "voicecalls"
    verbose_name = "AI voice calls (Retell)"

    def ready(self) -> None:
        # Listeners of core.events: a lead that asks for a call gets one.
        from voicecalls import listeners  # noqa: F401
