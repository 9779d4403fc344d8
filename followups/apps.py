from django.apps import AppConfig


class FollowupsConfig(AppConfig):
    name = "followups"
    verbose_name = "Follow-ups"

    def ready(self) -> None:
        # Listeners of core.events (what follow-ups do when messages come and go, leads move or change hands) and the
        # pending-work count of the tenant health view (tenants.selectors).
        from followups import listeners, selectors  # noqa: F401
