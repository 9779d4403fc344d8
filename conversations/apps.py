from django.apps import AppConfig


class ConversationsConfig(AppConfig):
    name = "conversations"
    verbose_name = "Conversations"

    def ready(self) -> None:
        # Registers what conversations contribute to a lower app's registry: the leads list's search in the words of
        # the dialog (leads.selectors).
        from conversations import selectors  # noqa: F401
