from django.apps import AppConfig


class BuildcrmConfig(AppConfig):
    """The web layer as an installed app: no models, its management commands (seed_demo)."""

    name = "buildcrm"
    verbose_name = "BuildCRM"
