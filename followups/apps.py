from django.apps import AppConfig


class FollowupsConfig(AppConfig):
    name = "followups"
    verbose_name = "Follow-ups"

    def ready(self) -> None:
        # Listeners of core.events: what follow-ups do when messages come and go, leads move or change hands.
        from followups import listeners  # noqa: F401
