import json

from django.core.management.base import BaseCommand, CommandError

from tenants.services import ProvisioningError, tenant_provision


class Command(BaseCommand):
    help = "Creates a tenant: schema, domain, owner, default stages and settings. Prints one JSON object."

    def add_arguments(self, parser):
        parser.add_argument("slug")
        parser.add_argument("--name", required=True)
        parser.add_argument("--owner-email", required=True)
        parser.add_argument("--owner-password", required=True)
        parser.add_argument("--owner-name", default="")
        parser.add_argument("--timezone", default="Asia/Almaty")
        parser.add_argument("--preset", default="construction", choices=["construction", "generic_b2b"])

    def handle(self, *args, **o):
        try:
            result = tenant_provision(
                slug=o["slug"], name=o["name"], owner_email=o["owner_email"], owner_password=o["owner_password"],
                timezone_name=o["timezone"], preset=o["preset"], owner_name=o["owner_name"],
            )
        except ProvisioningError as exc:
            raise CommandError(str(exc)) from None
        except Exception as exc:  # e.g. a bad time zone from the config validator: still one clear line
            raise CommandError(f"provisioning failed: {exc}") from None
        self.stdout.write(json.dumps(result.as_dict(), ensure_ascii=False))
