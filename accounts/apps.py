from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "accounts"
    verbose_name = "Team"

    def ready(self) -> None:
        # Listeners of core.events: a new tenant's owner.
        from accounts import listeners  # noqa: F401
