from django.conf import settings
from django.core.management.base import BaseCommand
from django_tenants.utils import tenant_context

from accounts.models import User
from buildcrm.demo import seed_demo_leads
from buildcrm.demo_knowledge import seed_demo_knowledge
from tenants.models import Tenant
from tenants.services import tenant_provision

DEMO_PASSWORD = "Demo-pass-2026"
DEMO_USERS = [
    ("owner@demo.buildcrm.kz", "owner", "Айгерим Owner"),
    ("head@demo.buildcrm.kz", "head", "Руслан Head"),
    ("manager1@demo.buildcrm.kz", "manager", "Дана Менеджер"),
    ("manager2@demo.buildcrm.kz", "manager", "Ерлан Менеджер"),
]


class Command(BaseCommand):
    help = "Provisions the demo tenant `demo` with a team and live-looking leads (idempotent); prints logins."

    def handle(self, *args, **opts):
        tenant = Tenant.objects.filter(slug="demo").first()
        if tenant is None:
            tenant = tenant_provision(slug="demo", name="Demo Build", owner_email=DEMO_USERS[0][0],
                                      owner_password=DEMO_PASSWORD, owner_name=DEMO_USERS[0][2]).tenant
        with tenant_context(tenant):
            for email, role, name in DEMO_USERS[1:]:
                if not User.objects.filter(email=email).exists():
                    User.objects.create_user(email, DEMO_PASSWORD, role=role, full_name=name)
            seed_demo_leads()
            seed_demo_knowledge()
        port = settings.PORT
        self.stdout.write("")
        self.stdout.write("BuildCRM is starting:")
        self.stdout.write(f"  CRM (demo tenant):  http://demo.{settings.TENANT_BASE_DOMAIN}:{port}/")
        self.stdout.write(f"  Sandbox phone:      http://demo.{settings.TENANT_BASE_DOMAIN}:{port}/sandbox")
        self.stdout.write(f"  Global admin:       http://{settings.PUBLIC_DOMAIN}:{port}/admin/")
        self.stdout.write(f"  API schema:         http://demo.{settings.TENANT_BASE_DOMAIN}:{port}/api/schema/")
        self.stdout.write("  Demo logins (password " + DEMO_PASSWORD + "):")
        for email, role, _name in DEMO_USERS:
            self.stdout.write(f"    {role:<8} {email}")
        self.stdout.write("")
