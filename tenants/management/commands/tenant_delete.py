from django.core.management.base import BaseCommand, CommandError

from tenants.management.commands._lifecycle import customer_tenant
from tenants.services import LifecycleError, tenant_delete_mark, tenant_resume, tenants_purge_due


class Command(BaseCommand):
    help = (
        "Marks a tenant for deletion: suspended now, schema and media dropped by beat after the grace period "
        "(TENANT_DELETE_GRACE_DAYS, or --grace-days). --cancel resumes it; --purge drops every tenant whose "
        "grace period is over now (what beat does hourly)."
    )

    def add_arguments(self, parser):
        parser.add_argument("slug", nargs="?")
        parser.add_argument("--grace-days", type=float, default=None)
        parser.add_argument("--cancel", action="store_true")
        parser.add_argument("--purge", action="store_true")

    def handle(self, *args, slug=None, grace_days=None, cancel=False, purge=False, **o):
        if slug:
            tenant = customer_tenant(slug)
            if cancel:
                tenant_resume(tenant=tenant, by="cli")
                self.stdout.write(f"tenant {slug}: deletion cancelled, active")
            else:
                try:
                    tenant = tenant_delete_mark(tenant=tenant, grace_days=grace_days, by="cli")
                except LifecycleError as exc:
                    raise CommandError(str(exc)) from None
                self.stdout.write(f"tenant {slug}: suspended, deleted after {tenant.delete_after.isoformat()}")
        elif not purge:
            raise CommandError("give a SLUG, or --purge")
        if purge:
            for done in tenants_purge_due():
                self.stdout.write(f"tenant {done}: deleted")
