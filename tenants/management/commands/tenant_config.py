import json
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from tenants.config import ConfigError
from tenants.models import Tenant
from tenants.services import tenant_config_export, tenant_config_import


class Command(BaseCommand):
    help = "Exports (--export) or imports (--import FILE, all or nothing) a tenant's configuration as JSON."

    def add_arguments(self, parser):
        parser.add_argument("slug")
        group = parser.add_mutually_exclusive_group(required=True)
        group.add_argument("--export", action="store_true")
        group.add_argument("--import", dest="import_file")
        parser.add_argument("--with-secrets", action="store_true")

    def handle(self, *args, slug, export, import_file, with_secrets, **opts):
        tenant = Tenant.objects.filter(slug=slug, is_template=False).exclude(schema_name="public").first()
        if tenant is None:
            raise CommandError(f"no tenant {slug!r}")
        if export:
            document = tenant_config_export(tenant, with_secrets=with_secrets)
            self.stdout.write(json.dumps(document, ensure_ascii=False, indent=2))
            return
        try:
            raw = Path(import_file).read_text() if import_file != "-" else self.stdin.read()
            document = json.loads(raw)
        except (OSError, json.JSONDecodeError) as exc:
            raise CommandError(f"cannot read {import_file}: {exc}") from None
        try:
            tenant_config_import(tenant, document)
        except ConfigError as exc:
            raise CommandError(f"invalid key {exc.key}: {exc.message}") from None
        self.stdout.write(f"configuration of {slug} imported")
