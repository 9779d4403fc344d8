import json
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from buildcrm.tenant_backup import BackupError, tenant_export
from tenants.models import Tenant


class Command(BaseCommand):
    help = (
        "Writes a tenant (its schema's tables, its public rows with secrets still encrypted, its media) to one "
        ".tar.gz file, from one consistent snapshot. Default file: <slug>-<UTC time>.tar.gz."
    )

    def add_arguments(self, parser):
        parser.add_argument("slug")
        parser.add_argument("--out", default=None)

    def handle(self, *args, slug, out=None, **o):
        tenant = Tenant.objects.filter(slug=slug, is_template=False).exclude(schema_name="public").first()
        if tenant is None:
            raise CommandError(f"no tenant {slug!r}")
        path = Path(out or f"{slug}-{timezone.now():%Y%m%dT%H%M%SZ}.tar.gz")
        try:
            manifest = tenant_export(tenant=tenant, out=path)
        except BackupError as exc:
            raise CommandError(str(exc)) from None
        rows = sum(t["rows"] for t in manifest["tables"].values())
        self.stdout.write(
            json.dumps({"slug": slug, "file": str(path), "tables": len(manifest["tables"]), "rows": rows})
        )
