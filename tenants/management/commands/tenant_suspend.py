from django.core.management.base import BaseCommand

from tenants.management.commands._lifecycle import customer_tenant
from tenants.services import tenant_suspend


class Command(BaseCommand):
    help = "Suspends a tenant: webhooks answer 503 (providers retry), users see a suspended page, beat skips it."

    def add_arguments(self, parser):
        parser.add_argument("slug")

    def handle(self, *args, slug, **o):
        tenant = tenant_suspend(tenant=customer_tenant(slug), by="cli")
        self.stdout.write(f"tenant {tenant.slug}: {tenant.status}")
