from django.apps import AppConfig


class ConversationsConfig(AppConfig):
    name = "conversations"
    verbose_name = "Conversations"

    def ready(self) -> None:
        # Registers what conversations contribute to lower apps' registries: the leads list's search in the words
        # of the dialog (leads.selectors) and the messages' pending-work counts of the tenant health view
        # (tenants.selectors).
        from conversations import selectors  # noqa: F401
