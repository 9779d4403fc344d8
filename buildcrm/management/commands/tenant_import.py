import json
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from buildcrm.tenant_backup import BackupError, tenant_import
from tenants.selectors import webhook_urls


class Command(BaseCommand):
    help = (
        "Restores a tenant from a tenant_export file under --slug (a new slug: a new domain and new webhook "
        "tokens; the dump's own slug, once free: its domain and tokens). Prints one JSON object like "
        "provision_tenant."
    )

    def add_arguments(self, parser):
        parser.add_argument("file")
        parser.add_argument("--slug", required=True)

    def handle(self, *args, file, slug, **o):
        path = Path(file)
        if not path.is_file():
            raise CommandError(f"no file {file}")
        try:
            result = tenant_import(path=path, slug=slug)
        except BackupError as exc:
            raise CommandError(str(exc)) from None
        self.stdout.write(
            json.dumps(
                {"slug": slug, "domain": result.domain, "rows": result.rows, "webhooks": webhook_urls(result.tenant)},
                ensure_ascii=False,
            )
        )
