from django.core.management.base import BaseCommand

from tenants.management.commands._lifecycle import customer_tenant
from tenants.services import tenant_resume


class Command(BaseCommand):
    help = "Resumes a suspended tenant (also cancels a pending deletion)."

    def add_arguments(self, parser):
        parser.add_argument("slug")

    def handle(self, *args, slug, **o):
        tenant = tenant_resume(tenant=customer_tenant(slug), by="cli")
        self.stdout.write(f"tenant {tenant.slug}: {tenant.status}")
