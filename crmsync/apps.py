from django.apps import AppConfig


class CrmsyncConfig(AppConfig):
    name = "crmsync"
    verbose_name = "amoCRM sync"
