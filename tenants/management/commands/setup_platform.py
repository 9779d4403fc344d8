from django.core.management import call_command
from django.core.management.base import BaseCommand

from tenants.services import platform_setup


class Command(BaseCommand):
    help = "Migrates the public and every tenant schema, creates the public tenant, the base schema and the admin."

    def add_arguments(self, parser):
        parser.add_argument("--admin-email")
        parser.add_argument("--admin-password")

    def handle(self, *args, admin_email=None, admin_password=None, verbosity=1, **opts):
        call_command("migrate_schemas", shared=True, interactive=False, verbosity=max(0, verbosity - 1))
        platform_setup(admin_email=admin_email, admin_password=admin_password)
        call_command("migrate_schemas", tenant=True, interactive=False, verbosity=max(0, verbosity - 1))
        self.stdout.write("platform ready")
