"""The content library in the global admin.

Django admin runs in the public schema while content lives in each tenant's schema: the platform owner picks
a tenant (`?tenant=<slug>`, kept in the session) and every content view then runs inside that tenant's schema.
Admin log entries are not written for these objects (the log lives in public and points at public rows)."""
from __future__ import annotations

from django.contrib import admin, messages
from django.http import HttpResponseRedirect
from django.template.response import TemplateResponse
from django_tenants.utils import get_public_schema_name, tenant_context

from followups.models import Content
from tenants.models import Tenant

SESSION_KEY = "followups_content_tenant"


def _tenants():
    return Tenant.objects.exclude(schema_name=get_public_schema_name()).order_by("slug")


@admin.register(Content)
class ContentAdmin(admin.ModelAdmin):
    list_display = ("title", "type", "language", "active", "tags", "stages", "temperatures", "updated_at")
    list_filter = ("type", "active", "language")
    search_fields = ("title", "text")
    change_list_template = "admin/followups/content/change_list.html"
    fieldsets = ((None, {"fields": ("type", "title", "text", "url", "items", "active")}),
                 ("Подбор", {"fields": ("tags", "stages", "temperatures", "language")}))

    def _tenant(self, request):
        slug = request.session.get(SESSION_KEY)
        return _tenants().filter(slug=slug).first() if slug else None

    def _scoped(self, request, view, *args, extra_context=None, **kwargs):
        if "tenant" in request.GET:  # the picker: remember the choice, then show the same page without it
            slug = request.GET["tenant"]
            if _tenants().filter(slug=slug).exists():
                request.session[SESSION_KEY] = slug
            else:
                messages.error(request, f"Нет тенанта {slug!r}")
            params = request.GET.copy()
            params.pop("tenant")
            return HttpResponseRedirect(f"{request.path}?{params.urlencode()}" if params else request.path)
        tenant = self._tenant(request)
        context = {"content_tenant": tenant, "content_tenants": list(_tenants()), **(extra_context or {})}
        if tenant is None:
            return TemplateResponse(request, "admin/followups/content/pick_tenant.html",
                                    {**self.admin_site.each_context(request), **context,
                                     "opts": self.model._meta, "title": "Контент: выберите тенанта"})
        with tenant_context(tenant):
            response = view(request, *args, extra_context=context, **kwargs)
            if hasattr(response, "render") and not getattr(response, "is_rendered", True):
                response.render()
        return response

    def changelist_view(self, request, extra_context=None):
        return self._scoped(request, super().changelist_view, extra_context=extra_context)

    def add_view(self, request, form_url="", extra_context=None):
        return self._scoped(request, super().add_view, form_url, extra_context=extra_context)

    def change_view(self, request, object_id, form_url="", extra_context=None):
        return self._scoped(request, super().change_view, object_id, form_url, extra_context=extra_context)

    def delete_view(self, request, object_id, extra_context=None):
        return self._scoped(request, super().delete_view, object_id, extra_context=extra_context)

    def history_view(self, request, object_id, extra_context=None):
        return self._scoped(request, super().history_view, object_id, extra_context=extra_context)

    def log_addition(self, request, obj, message):
        return None

    def log_change(self, request, obj, message):
        return None

    def log_deletions(self, request, queryset):
        return None
